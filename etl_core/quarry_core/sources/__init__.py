"""The source registry: every fact about a source type that the core, the extractor and the workers
share. A new source is a module here plus one entry in SOURCES (its connector and transform register
under the same type in the extractor and the workers; tests check that all of them agree with the
CRD enums and the database constraint)."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from quarry_core.errors import FatalError
from quarry_core.sources import github, jira
from quarry_core.sources.base import AuthStyle, RateLimitStyle, ScopeShape, Source

SOURCES: Mapping[str, Source] = MappingProxyType({s.type: s for s in (jira.SOURCE, github.SOURCE)})
ALL_ENTITIES: tuple[str, ...] = tuple(dict.fromkeys(e for s in SOURCES.values() for e in s.entities))


class UnknownSource(FatalError):
    pass


def get_source(type_: str) -> Source:
    try:
        return SOURCES[type_]
    except KeyError:
        known = ", ".join(SOURCES)
        raise UnknownSource(f"unknown integration type {type_!r} (known: {known})") from None


__all__ = [
    "ALL_ENTITIES",
    "SOURCES",
    "AuthStyle",
    "RateLimitStyle",
    "ScopeShape",
    "Source",
    "UnknownSource",
    "get_source",
]
