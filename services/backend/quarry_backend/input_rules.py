"""Input every route refuses, whatever its parameters: NUL characters (PostgreSQL text cannot hold
them, so they would otherwise fail deep in a query)."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from typing import Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError

Loc = tuple[str | int, ...]


def nul_locations(value: Any, loc: Loc) -> Iterator[Loc]:
    """Where in a decoded JSON value a string (or key) holds a NUL character."""
    if isinstance(value, str):
        if "\x00" in value:
            yield loc
    elif isinstance(value, dict):
        for key, item in value.items():
            if "\x00" in key:
                yield (*loc, key)
            yield from nul_locations(item, (*loc, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from nul_locations(item, (*loc, index))


async def reject_nul(request: Request) -> None:
    locs: list[Loc] = [("path", k) for k, v in request.path_params.items() if "\x00" in str(v)]
    locs += [("query", k) for k, v in request.query_params.multi_items() if "\x00" in k + v]
    locs += [("header", k) for k, v in request.headers.items() if "\x00" in v]
    content_type = request.headers.get("content-type", "")
    if "form" in content_type:
        form = await request.form()
        locs += [("body", k) for k, v in form.multi_items() if isinstance(v, str) and "\x00" in k + v]
    elif "json" in content_type:
        with contextlib.suppress(ValueError):  # not JSON: the route's own validation answers that
            locs += nul_locations(json.loads(await request.body()), ("body",))
    if locs:
        raise RequestValidationError(
            [{"loc": loc, "msg": "NUL characters are not allowed", "type": "value_error"} for loc in locs]
        )
