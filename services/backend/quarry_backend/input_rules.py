"""Input every route refuses, whatever its parameters: NUL characters (PostgreSQL text cannot hold
them, so they would otherwise fail deep in a query)."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from typing import Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError, WebSocketRequestValidationError
from starlette.requests import HTTPConnection

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


async def reject_nul(connection: HTTPConnection) -> None:
    locs: list[Loc] = [("path", k) for k, v in connection.path_params.items() if "\x00" in str(v)]
    locs += [("query", k) for k, v in connection.query_params.multi_items() if "\x00" in k + v]
    locs += [("header", k) for k, v in connection.headers.items() if "\x00" in v]
    if isinstance(connection, Request):
        locs += await _body_nul(connection)
    errors = [{"loc": loc, "msg": "NUL characters are not allowed", "type": "value_error"} for loc in locs]
    if errors and isinstance(connection, Request):
        raise RequestValidationError(errors)
    if errors:
        raise WebSocketRequestValidationError(errors)


async def _body_nul(request: Request) -> list[Loc]:
    locs: list[Loc] = []
    content_type = request.headers.get("content-type", "")
    if "form" in content_type:
        form = await request.form()
        locs += [("body", k) for k, v in form.multi_items() if isinstance(v, str) and "\x00" in k + v]
    elif "json" in content_type:
        with contextlib.suppress(ValueError):  # not JSON: the route's own validation answers that
            locs += nul_locations(json.loads(await request.body()), ("body",))
    return locs
