"""The raw store: one row per API page, written with the run's checkpoint in one transaction."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
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
    "method, params, status, response, response_received, substitutions, item_count) values (:tenant, "
    ":integration_id, :run_id, :entity, :stream, :page_seq, :url, :method, CAST(:params AS jsonb), :status, "
    "CAST(:response AS json), :received, CAST(:substitutions AS jsonb), :item_count) "
    "on conflict (run_id, stream, page_seq) do nothing returning id"
)
_CHECKPOINT = text(
    "update etl_runs set checkpoint = CAST(:checkpoint AS jsonb), "
    "candidate_cursors = CAST(:cursors AS jsonb), updated_at = now() where id = :run_id"
)
# A `\u0000` escape whose backslash is not itself escaped (an even run of backslashes before it).
_NUL_ESCAPE = re.compile(r"(?<!\\)((?:\\\\)*)\\u0000")


def jsonb_safe(json_text: str) -> str:
    """The JSON text without NUL characters, which PostgreSQL jsonb, text and the json functions
    cannot hold.

    NULs are stripped, not escaped: Jira text sometimes carries a stray `\\u0000`, it means nothing
    to a reader, and keeping it as the six visible characters `\\u0000` would put noise into the
    transformed titles and descriptions. Everything else of the page stays byte-for-byte.
    """
    return _strip_nul(json_text)[0]


def _strip_nul(json_text: str) -> tuple[str, int]:
    if "\\u0000" not in json_text and "\x00" not in json_text:
        return json_text, 0
    stripped, escapes = _NUL_ESCAPE.subn(r"\1", json_text)
    raw = stripped.count("\x00")
    return stripped.replace("\x00", ""), escapes + raw


_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")
_SURROGATES = re.compile("[\ud800-\udfff]")


def _replace_surrogates(value: Any, count: list[int]) -> Any:
    if isinstance(value, str):
        fixed, n = _SURROGATES.subn("\ufffd", value)
        count[0] += n
        return fixed
    if isinstance(value, list):
        return [_replace_surrogates(v, count) for v in value]
    if isinstance(value, dict):
        return {_replace_surrogates(k, count): _replace_surrogates(v, count) for k, v in value.items()}
    return value


def sanitise_page(json_text: str) -> tuple[str, dict[str, int]]:
    """JSON text PostgreSQL can read values from, and what was substituted to get it.

    The raw column is `json` (stored as sent), but its functions (`->>`, the deletion sweep's
    ids), jsonb and text columns refuse NUL and an unpaired UTF-16 surrogate escape
    (`"\\ud83d"` from an emoji cut in half). NULs are dropped (see `jsonb_safe`), lone surrogates
    become U+FFFD; the caller keeps the page as received beside the result whenever anything was
    substituted.
    """
    text, nul = _strip_nul(json_text)
    lone = [0]
    if _SURROGATE_ESCAPE.search(text):
        try:
            data = json.loads(text)
        except ValueError:
            data = None
        if data is not None:
            fixed = _replace_surrogates(data, lone)
            if lone[0]:
                text = json.dumps(fixed, ensure_ascii=False, separators=(",", ":"))
    return text, {k: n for k, n in (("nul", nul), ("lone_surrogate", lone[0])) if n}


def insert_page(session: Session, page: RawPage) -> tuple[int, bool]:
    """Insert the page (the body verbatim unless PostgreSQL could not read it); (its id, inserted).

    A body PostgreSQL could not read values from is stored sanitised, with the bytes as received
    and the substitutions beside it. A page already stored under the same (run, stream, page_seq)
    is kept, never duplicated.
    """
    response, substitutions = sanitise_page(page.response_text) if page.response_text else ("null", {})
    values = {
        "tenant": page.tenant,
        "integration_id": page.integration_id,
        "run_id": page.run_id,
        "entity": page.entity,
        "stream": page.stream,
        "page_seq": page.page_seq,
        "url": page.url,
        "method": page.method,
        "params": jsonb_safe(json.dumps(page.params)),
        "status": page.status,
        "response": response,
        "received": page.response_text.encode("utf-8", "surrogatepass") if substitutions else None,
        "substitutions": json.dumps(substitutions) if substitutions else None,
        "item_count": page.item_count,
    }
    raw_id = session.execute(_INSERT, values).scalar_one_or_none()
    if raw_id is not None:
        return int(raw_id), True
    existing = session.execute(
        select(RawExtractionData.id).where(
            RawExtractionData.run_id == page.run_id,
            RawExtractionData.stream == page.stream,
            RawExtractionData.page_seq == page.page_seq,
        )
    ).scalar_one()
    return int(existing), False


def store_pages(session: Session, pages: Iterable[RawPage]) -> list[tuple[int, str]]:
    """Insert pages and add the new ones to the run counters (one upsert per entity).

    Returns (id, entity) of every page, in order.
    """
    out: list[tuple[int, str]] = []
    added: dict[tuple[str, int, str], list[int]] = {}
    for page in pages:
        raw_id, inserted = insert_page(session, page)
        out.append((raw_id, page.entity))
        if inserted:
            totals = added.setdefault((page.tenant, page.run_id, page.entity), [0, 0])
            totals[0] += 1
            totals[1] += page.item_count
    for (tenant, run_id, entity), (pages_n, items) in added.items():
        runs.add_counts(session, tenant, run_id, entity, pages=pages_n, extracted=items)
    return out


def store_page(session: Session, page: RawPage) -> int:
    return store_pages(session, [page])[0][0]


def save_checkpoint(
    session: Session, run_id: int, checkpoint: dict[str, Any], cursors: dict[str, Any]
) -> None:
    session.execute(
        _CHECKPOINT,
        {
            "checkpoint": jsonb_safe(json.dumps(checkpoint)),
            "cursors": jsonb_safe(json.dumps(cursors)),
            "run_id": run_id,
        },
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
