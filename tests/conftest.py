"""Fixtures shared by every test folder: real PostgreSQL, real RabbitMQ, isolated names."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, create_engine, text

from tests.support.services import AMQP_URL, require, temporary_database

# The imitation Jira/GitHub servers listen on 127.0.0.1, a private address Quarry refuses unless
# the platform allows it (tests/unit/test_egress.py covers the refusal).
os.environ.setdefault("QUARRY_EGRESS_ALLOW_PRIVATE", "true")


@pytest.fixture(scope="session")
def database_url() -> Iterator[str]:
    """A migrated database of its own for this test session (real PostgreSQL)."""
    with temporary_database() as url:
        yield url


@pytest.fixture(scope="session")
def engine(database_url: str) -> Iterator[Engine]:
    eng = create_engine(database_url, pool_size=5, max_overflow=10)
    yield eng
    eng.dispose()


@pytest.fixture(scope="session")
def runtime_engine(database_url: str) -> Iterator[Engine]:
    """Connections as Quarry's processes make them: the RLS-bound runtime role (tests seed as owner)."""
    from quarry_core.db.tenancy import bind_runtime_role

    eng = bind_runtime_role(create_engine(database_url, pool_size=5, max_overflow=10))
    yield eng
    eng.dispose()


@pytest.fixture
def tenant(engine: Engine) -> str:
    """A fresh tenant row; tests isolate their data by tenant instead of truncating tables."""
    name = f"t-{uuid.uuid4().hex[:10]}"
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO tenants (name) VALUES (:n)"), {"n": name})
    return name


@pytest.fixture(scope="session")
def amqp_url() -> str:
    require("RabbitMQ", AMQP_URL)
    return AMQP_URL


@pytest.fixture
def queue_prefix() -> str:
    """Queue names of this test's own (RabbitMQ queues are shared by the whole broker)."""
    return f"qt{uuid.uuid4().hex[:10]}"
