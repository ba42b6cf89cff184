"""The Quarry HTTP API (FastAPI): auth, tenants, resources, runs, data, queues, live progress."""
