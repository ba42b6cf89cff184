"""The raw store: one row per API page, written with the run's checkpoint in one transaction."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from quarry_core import runs
from quarry_core.db.models import RawExtractionData


@dataclass(frozen=True)
class RawPage:
    tenant: str
    integration_id: int
    run_id: int
    entity: str
    stream: str
    page_seq: int
    url: str
    method: str
    params: dict[str, Any]
    status: int
    response_text: str
    item_count: int


_INSERT = text(
    "insert into raw_extraction_data (tenant, integration_id, run_id, entity, stream, page_seq, url, "
    "method, params, status, response, item_count) values (:tenant, :integration_id, :run_id, :entity, "
    ":stream, :page_seq, :url, :method, CAST(:params AS jsonb), :status, CAST(:response AS jsonb), "
    ":item_count) on conflict (run_id, stream, page_seq) do nothing returning id"
)
_CHECKPOINT = text(
    "update etl_runs set checkpoint = CAST(:checkpoint AS jsonb), "
    "candidate_cursors = CAST(:cursors AS jsonb), updated_at = now() where id = :run_id"
)


def store_page(session: Session, page: RawPage) -> int:
    """Insert the page (the body verbatim: no re-serialisation) and count it; returns its id.

    A page already stored under the same (run, stream, page_seq) is kept, never duplicated.
    """
    values = {
        "tenant": page.tenant,
        "integration_id": page.integration_id,
        "run_id": page.run_id,
        "entity": page.entity,
        "stream": page.stream,
        "page_seq": page.page_seq,
        "url": page.url,
        "method": page.method,
        "params": json.dumps(page.params),
        "status": page.status,
        "response": page.response_text or "null",
        "item_count": page.item_count,
    }
    raw_id = session.execute(_INSERT, values).scalar_one_or_none()
    if raw_id is None:
        return int(
            session.execute(
                select(RawExtractionData.id).where(
                    RawExtractionData.run_id == page.run_id,
                    RawExtractionData.stream == page.stream,
                    RawExtractionData.page_seq == page.page_seq,
                )
            ).scalar_one()
        )
    runs.add_counts(session, page.tenant, page.run_id, page.entity, pages=1, extracted=page.item_count)
    return int(raw_id)


def save_checkpoint(
    session: Session, run_id: int, checkpoint: dict[str, Any], cursors: dict[str, Any]
) -> None:
    session.execute(
        _CHECKPOINT, {"checkpoint": json.dumps(checkpoint), "cursors": json.dumps(cursors), "run_id": run_id}
    )


def last_page(session: Session, run_id: int) -> tuple[int, str] | None:
    """(id, entity) of the newest stored page of a run: the one a crash may have left unpublished."""
    row = session.execute(
        select(RawExtractionData.id, RawExtractionData.entity)
        .where(RawExtractionData.run_id == run_id)
        .order_by(RawExtractionData.id.desc())
        .limit(1)
    ).one_or_none()
    return None if row is None else (int(row[0]), str(row[1]))
