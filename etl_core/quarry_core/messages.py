"""Versioned message contracts between the stages.

A message that does not validate is never retried: consumers send it straight to the stage's
dead-letter queue with the validation error (see quarry_core.queue.consumer).
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from quarry_core.errors import FatalError

M = TypeVar("M", bound="Message")

# RabbitMQ 4 refuses messages over 16 MiB by default; staying below it keeps both backends alike.
MAX_MESSAGE_BYTES = 8 << 20


class MessageTooLarge(FatalError):
    """A message over MAX_MESSAGE_BYTES: never published, never decoded."""


def _new_id() -> str:
    return uuid.uuid4().hex


def _now() -> datetime:
    return datetime.now(UTC)


class Message(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    version: Literal[1] = 1
    message_id: str = Field(default_factory=_new_id, min_length=1, max_length=64)
    tenant: str = Field(min_length=1, max_length=63)
    run_id: int = Field(ge=1)
    created_at: datetime = Field(default_factory=_now)

    def to_bytes(self) -> bytes:
        body = self.model_dump_json().encode()
        if len(body) > MAX_MESSAGE_BYTES:
            raise MessageTooLarge(
                f"{type(self).__name__} {self.message_id} of run {self.run_id} is {len(body)} bytes, "
                f"over the {MAX_MESSAGE_BYTES} byte limit of a message"
            )
        return body


class ExtractMessage(Message):
    """Ask for (part of) a run's extraction; `stream` narrows it to one stream, e.g. one repo."""

    kind: Literal["extract"] = "extract"
    integration_id: int = Field(ge=1)
    entities: list[str] = Field(default_factory=list)
    stream: str | None = None


class TransformMessage(Message):
    """One raw page is stored and committed: transform it."""

    kind: Literal["transform"] = "transform"
    integration_id: int = Field(ge=1)
    raw_id: int = Field(ge=1)
    entity: str = Field(min_length=1)
    # Set when the page is replayed by a re-transform: the run that asked for it.
    retransform: bool = False


class LoadMessage(Message):
    """Normalised records from one raw page, ready to upsert: {table name: [row, ...]}."""

    kind: Literal["load"] = "load"
    integration_id: int = Field(ge=1)
    raw_id: int = Field(ge=1)
    seq: int = Field(ge=0, description="Batch number within the raw page (a page may split).")
    entity: str = Field(min_length=1)
    tables: dict[str, list[dict[str, Any]]]
    # Source items of the page this batch completes (counted as loaded when it commits), so that
    # extracted, transformed and loaded count the same thing: items on the source's pages.
    items: int = Field(default=0, ge=0)


class InvalidMessage(FatalError):
    """The bytes are not a valid message of the expected kind and version."""


def decode(model: type[M], body: bytes) -> M:
    if len(body) > MAX_MESSAGE_BYTES:
        raise InvalidMessage(f"a message of {len(body)} bytes is over the {MAX_MESSAGE_BYTES} byte limit")
    try:
        return model.model_validate_json(body)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or '<root>'}: {err['msg']}" for err in exc.errors()[:5]
        )
        raise InvalidMessage(f"invalid {model.__name__}: {problems}") from exc
