"""The API's database access: the primary for everything, a read replica for read-only data routes."""

from __future__ import annotations

import threading
from typing import Any

from sqlalchemy import Engine, event, text
from sqlalchemy.orm import Session, sessionmaker

from quarry_core.db.engine import database_url, new_engine, normalise_url
from quarry_core.db.tenancy import acting_as, bind_runtime_role, platform_sessions
from quarry_core.settings import CoreSettings


class Database:
    """Engines are made on first use: `quarry up` serves HTTP before its database is migrated."""

    def __init__(self, settings: CoreSettings, replica_url: str | None = None) -> None:
        self.settings = settings
        self.replica_url = normalise_url(replica_url) if replica_url else None
        self._lock = threading.Lock()
        self._primary: Engine | None = None
        self._replica: Engine | None = None

    @property
    def engine(self) -> Engine:
        with self._lock:
            if self._primary is None:
                url = database_url(self.settings)  # may start the embedded PostgreSQL
                self._primary = bind_runtime_role(
                    new_engine(url, pool_size=10)
                )
            return self._primary

    @property
    def replica(self) -> Engine:
        if self.replica_url is None:
            return self.engine
        with self._lock:
            if self._replica is None:
                self._replica = bind_runtime_role(
                    new_engine(self.replica_url, pool_size=10)
                )
            return self._replica

    def platform_session(self) -> Session:
        """A session acting across tenants (authentication, the platform's own tables)."""
        return platform_sessions(self.engine)()

    def tenant_session(self, tenant: str, read_only: bool = False) -> Session:
        """Every transaction of this session acts for `tenant` (and is read-only on the replica)."""
        engine = self.replica if read_only else self.engine
        session = sessionmaker(engine, expire_on_commit=False)()

        @event.listens_for(session, "after_begin")
        def _act(session_: Session, transaction: Any, connection: Any) -> None:
            if read_only:
                connection.execute(text("set transaction read only"))
            acting_as(connection, tenant)

        return session

    def dispose(self) -> None:
        for engine in (self._primary, self._replica):
            if engine is not None:
                engine.dispose()
