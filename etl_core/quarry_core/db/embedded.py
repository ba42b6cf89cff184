"""Embedded PostgreSQL (pgserver) for single-machine mode.

The server lives under the data directory and keeps running after the process that started it
exits, so `quarry migrate`, `quarry up` and every worker process share one database.
"""

from __future__ import annotations

import logging
import os
import warnings
from pathlib import Path

from quarry_core.errors import ConfigError

log = logging.getLogger(__name__)


def embedded_database_url(data_dir: Path) -> str:
    """Start (or join) the embedded PostgreSQL under `data_dir` and return its SQLAlchemy URL."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # platformdirs warns about XDG_RUNTIME_DIR on import
        from pgserver import get_server  # type: ignore[attr-defined]
    data_dir.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            server = get_server(data_dir / "pgdata", cleanup_mode=None)
        except Exception as exc:
            raise ConfigError(
                f"DATABASE_URL is unset and the embedded PostgreSQL under {data_dir / 'pgdata'} "
                f"could not start: {exc}"
            ) from exc
    uri: str = server.get_uri()
    log.debug("embedded PostgreSQL at %s", uri)
    return uri.replace("postgresql://", "postgresql+psycopg2://", 1)


def embedded_running(data_dir: Path) -> bool:
    return (data_dir / "pgdata" / "postmaster.pid").exists()


def stop_embedded(data_dir: Path) -> None:
    """Stop the embedded server if it runs (used by `quarry down` and tests)."""
    import subprocess

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import pgserver

    pgdata = data_dir / "pgdata"
    if not embedded_running(data_dir):
        return
    pg_ctl = Path(pgserver.__file__).parent / "pginstall" / "bin" / "pg_ctl"
    # pgserver runs the server as its own `pgserver` user when started by root (PostgreSQL refuses
    # root), and pg_ctl must run as that user too.
    user = "pgserver" if os.name == "posix" and os.geteuid() == 0 else None
    subprocess.run(
        [str(pg_ctl), "-D", str(pgdata), "-m", "fast", "-w", "stop"],
        check=False,
        user=user,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        timeout=60,
    )
