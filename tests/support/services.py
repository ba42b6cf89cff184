"""Access to the real PostgreSQL and RabbitMQ for tests.

Under CI=true a missing service is a failure, not a skip: a green run must mean the service
tests really ran.
"""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import urlsplit

import pytest
from sqlalchemy import create_engine, text

PG_ADMIN_URL = os.environ.get("QUARRY_TEST_PG_URL", "postgresql+psycopg2://postgres@127.0.0.1:5432/postgres")
AMQP_URL = os.environ.get("QUARRY_TEST_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/%2F")


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


def require(service: str, url: str) -> None:
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port
    assert port is not None
    try:
        with socket.create_connection((host, port), timeout=2):
            return
    except OSError as exc:
        message = f"{service} is not reachable at {host}:{port} ({exc})"
        if in_ci():
            pytest.fail(f"{message}; CI needs it running", pytrace=False)
        pytest.skip(message)


def with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return parts._replace(path=f"/{name}").geturl()


@contextmanager
def temporary_database(prefix: str = "quarry_test") -> Iterator[str]:
    """A new, migrated database; dropped afterwards."""
    from quarry_core.db.migrate import upgrade

    require("PostgreSQL", PG_ADMIN_URL)
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = with_database(PG_ADMIN_URL, name)
    engine = create_engine(url)
    try:
        upgrade(engine)
        engine.dispose()
        yield url
    finally:
        engine.dispose()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
