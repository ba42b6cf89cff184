"""One way to reach the database, with errors that name the setting."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from urllib.parse import urlsplit

from sqlalchemy import Engine, create_engine, text
from sqlalchemy.exc import ArgumentError, DBAPIError
from sqlalchemy.orm import Session, sessionmaker

from quarry_core import jsontext
from quarry_core.db.embedded import embedded_database_url
from quarry_core.db.tenancy import bind_runtime_role
from quarry_core.errors import ConfigError, Unreachable
from quarry_core.settings import CoreSettings


def normalise_url(url: str) -> str:
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://") :]
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg2://" + url[len("postgresql://") :]
    return url


def database_url(settings: CoreSettings) -> str:
    if settings.database_url:
        return normalise_url(settings.database_url.get_secret_value())
    return embedded_database_url(settings.data_dir)


def redact(url: str) -> str:
    parts = urlsplit(url)
    if parts.password:
        return url.replace(f":{parts.password}@", ":***@", 1)
    return url


def new_engine(url: str, pool_size: int) -> Engine:
    """An engine whose json and jsonb columns are read by orjson (raw pages are megabytes)."""
    return create_engine(
        url,
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_pre_ping=True,
        json_deserializer=jsontext.loads,
    )


@lru_cache(maxsize=8)
def _engine_for(url: str, pool_size: int) -> Engine:
    try:
        return new_engine(url, pool_size)
    except (ArgumentError, ImportError, ValueError) as exc:
        raise ConfigError(f"DATABASE_URL is not a valid PostgreSQL URL ({redact(url)}): {exc}") from exc


def get_engine(settings: CoreSettings, pool_size: int = 5, check: bool = True) -> Engine:
    """The process's engine for these settings; with `check`, fail with one clear line if unreachable."""
    url = database_url(settings)
    engine = bind_runtime_role(_engine_for(url, pool_size))
    if check:
        check_connection(engine, url)
    return engine


def check_connection(engine: Engine, url: str) -> None:
    try:
        with engine.connect() as conn:
            conn.execute(text("select 1"))
    except DBAPIError as exc:
        reason = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)
        raise Unreachable(f"DATABASE_URL: cannot connect to {redact(url)}: {reason}") from exc


def session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


@contextmanager
def session_scope(factory: sessionmaker[Session]) -> Iterator[Session]:
    """A transaction: commit on success, roll back on any error."""
    session = factory()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()
