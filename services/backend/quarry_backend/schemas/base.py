"""The base of every API model: camelCase on the wire, snake_case in Python."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from quarry_core.resources import DNS_SUBDOMAIN


class ApiModel(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid")


class OutModel(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, from_attributes=True)


# Short enough that "<name>-credentials" is still a valid Secret name.
Name = Annotated[str, Field(min_length=1, max_length=200, pattern=DNS_SUBDOMAIN, examples=["acme-jira"])]

T = TypeVar("T")


class Page(OutModel, Generic[T]):
    """One page of a list; pass `nextCursor` as `cursor` for the next one (absent on the last)."""

    items: list[T]
    next_cursor: str | None = None


class Accepted(OutModel):
    message: str
    at: datetime | None = None
