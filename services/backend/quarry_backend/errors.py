"""Error bodies and the error responses every route documents."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field


class ErrorOut(BaseModel):
    detail: str = Field(description="What went wrong, for people.", examples=["job not found"])


class ValidationIssue(BaseModel):
    loc: list[str | int] = Field(description="Where: e.g. ['body', 'scope', 'projects', 0].")
    msg: str
    type: str


class ValidationErrorOut(BaseModel):
    detail: list[ValidationIssue]


def _error(description: str, model: type[BaseModel] = ErrorOut) -> dict[str, Any]:
    return {"model": model, "description": description}


Responses = dict[int | str, dict[str, Any]]

UNAUTHORIZED: Responses = {401: _error("No valid access token or API key")}
FORBIDDEN: Responses = {403: _error("The caller's role may not do this")}
NOT_FOUND: Responses = {404: _error("No such object in the caller's tenant")}
CONFLICT: Responses = {409: _error("The object exists already, or its state forbids the action")}
TOO_MANY: Responses = {429: _error("Too many attempts; retry later")}
UNAVAILABLE: Responses = {503: _error("A backing service is unavailable")}

READ: Responses = {**UNAUTHORIZED}
READ_ONE: Responses = {**UNAUTHORIZED, **NOT_FOUND}
WRITE: Responses = {**UNAUTHORIZED, **FORBIDDEN}
WRITE_ONE: Responses = {**UNAUTHORIZED, **FORBIDDEN, **NOT_FOUND}
