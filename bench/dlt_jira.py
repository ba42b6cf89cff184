"""dlt's generic `rest_api` source loading the imitation Jira's search pages into PostgreSQL.

Run by `bench/e2e.py` with the bench virtualenv's interpreter (`bench/.venv-dlt`, dlt is no
dependency of Quarry). The configuration is what a dlt user writes for Jira Cloud: one resource
per project over `search/jql` with token paging, the same fields as Quarry asks for and the
embedded changelog (dlt has no way to complete truncated changelogs: histories are embedded only).
Prints one JSON line: {"seconds": .., "rows": {table: count}}.

    bench/.venv-dlt/bin/python bench/dlt_jira.py BASE_URL PG_URL EMAIL TOKEN FIELDS PROJECT...
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from typing import Any


def credentials(url: str) -> str:
    """dlt insists on a password; a trust-auth server ignores it."""
    scheme, rest = url.replace("+psycopg2", "").split("://", 1)
    userinfo, _, host = rest.rpartition("@")
    if userinfo and ":" not in userinfo:
        userinfo += ":unused"
    return f"{scheme}://{userinfo}@{host}" if userinfo else url


def main(argv: list[str]) -> int:
    import dlt
    from dlt.sources.rest_api import rest_api_source

    base_url, pg_url, email, token, fields, *projects = argv
    resources: list[Any] = [
        {
            "name": f"issues_{p.lower()}",
            "table_name": "issues",
            "endpoint": {
                "path": "rest/api/3/search/jql",
                "params": {
                    "jql": f'project = "{p}" ORDER BY id ASC',
                    "fields": fields,
                    "expand": "changelog",
                    "maxResults": 100,
                },
                "data_selector": "issues",
                "paginator": {
                    "type": "cursor",
                    "cursor_path": "nextPageToken",
                    "cursor_param": "nextPageToken",
                },
            },
            "write_disposition": "replace",
        }
        for p in projects
    ]
    source = rest_api_source(
        {
            "client": {
                "base_url": base_url.rstrip("/") + "/",
                "auth": {"type": "http_basic", "username": email, "password": token},
            },
            "resources": resources,
        }
    )
    with tempfile.TemporaryDirectory() as tmp:
        pipeline = dlt.pipeline(
            pipeline_name="jira_bench",
            pipelines_dir=tmp,
            destination=dlt.destinations.postgres(credentials=credentials(pg_url)),
            dataset_name="dlt_jira",
        )
        start = time.perf_counter()
        pipeline.run(source)
        seconds = time.perf_counter() - start
        rows: dict[str, int] = {}
        with pipeline.sql_client() as client:
            for table in ("issues", "issues__changelog__histories"):
                try:
                    rows[table] = int(client.execute_sql(f"select count(*) from {table}")[0][0])
                except Exception:
                    rows[table] = 0
    print(json.dumps({"seconds": seconds, "rows": rows}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
