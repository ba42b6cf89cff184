"""Does a message belong together? Its tenant, run, integration and raw page must all agree.

Messages name their tenant, and a worker acts as that tenant (RLS). A message whose run is gone
(the job or tenant was deleted while pages were in flight) is dropped; one whose run, integration
or page belong to another tenant or integration is refused (dead-lettered) without touching
either tenant's rows.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.orm import Session

from quarry_core.db.tenancy import as_platform
from quarry_core.errors import Discard, FatalError
from quarry_core.messages import Message


@dataclass(frozen=True)
class Owner:
    tenant: str
    integration_id: int


@dataclass(frozen=True)
class Problem:
    reason: str
    gone: bool = False  # nothing to act for any more: drop, do not dead-letter


def verdict(message: Message, run: Owner | None, raw: Owner | None, raw_expected: bool) -> Problem | None:
    """None when the message belongs together; else what is wrong with it."""
    if run is None:
        return Problem(f"run {message.run_id} no longer exists", gone=True)
    integration = getattr(message, "integration_id", None)
    if run.tenant != message.tenant:
        return Problem(f"run {message.run_id} does not belong to tenant {message.tenant!r}")
    if integration is not None and run.integration_id != integration:
        return Problem(f"run {message.run_id} does not belong to integration {integration}")
    if raw_expected:
        raw_id = getattr(message, "raw_id", None)
        if raw is None:
            return Problem(f"raw page {raw_id} does not exist (pruned?)")
        if raw.tenant != message.tenant or (integration is not None and raw.integration_id != integration):
            return Problem(
                f"raw page {raw_id} does not belong to tenant {message.tenant!r}, integration {integration}"
            )
    return None


def _owners(session: Session, table: str, ids: Iterable[int]) -> dict[int, Owner]:
    wanted = sorted(set(ids))
    if not wanted:
        return {}
    rows = session.execute(
        text(f"SELECT id, tenant, integration_id FROM {table} WHERE id = ANY(:ids)"), {"ids": wanted}
    )
    return {int(r.id): Owner(r.tenant, int(r.integration_id)) for r in rows}


def check_messages(session: Session, messages: Sequence[Message]) -> None:
    """Raise Discard / FatalError for the first message that does not belong together.

    Runs in platform context (its own transaction): the worker is deciding whom a message may
    act for, which a tenant-bound session could not see.
    """
    as_platform(session)
    runs: Mapping[int, Owner] = _owners(session, "etl_runs", (m.run_id for m in messages))
    raw_ids = [int(r) for m in messages if (r := getattr(m, "raw_id", None)) is not None]
    raws: Mapping[int, Owner] = _owners(session, "raw_extraction_data", raw_ids)
    for m in messages:
        raw_id = getattr(m, "raw_id", None)
        problem = verdict(m, runs.get(m.run_id), raws.get(raw_id) if raw_id else None, raw_id is not None)
        if problem is None:
            continue
        if problem.gone:
            raise Discard(f"message {m.message_id}: {problem.reason}")
        raise FatalError(f"message {m.message_id} refused: {problem.reason}")
