"""Property-based requests over the whole OpenAPI document (schemathesis): no input makes a 5xx.

A small, fixed budget keeps it to a few minutes in CI; the data it writes stays in a tenant of its own.
"""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from sqlalchemy import Engine

from tests.backend.conftest import Tenant, make_tenant, seed

EXAMPLES = 15


@pytest.fixture(scope="module")
def fuzz_tenant(app: FastAPI, engine: Engine) -> Tenant:
    with TestClient(app) as client:
        tenant = make_tenant(engine, client)
        seed(engine, client, tenant)
        return tenant


def test_no_input_makes_a_server_error(app: FastAPI, fuzz_tenant: Tenant) -> None:
    schema = schemathesis.openapi.from_asgi("/api/v1/openapi.json", app)
    # Admin: every route is reachable, so generated input reaches each handler, not just the 403.
    headers = fuzz_tenant.headers("admin")
    errors: list[str] = []
    operations = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        operations += 1

        @given(case=operation.as_strategy())
        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            derandomize=True,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def call(case: Any) -> None:
            try:
                response = case.call(headers={**headers, **(case.headers or {})})
            except Exception as exc:  # the app raised: what a server would answer with a 500
                errors.append(f"{case.method} {case.formatted_path}: {type(exc).__name__}: {exc}"[:400])
                return
            if response.status_code >= 500:
                errors.append(
                    f"{case.method} {case.formatted_path} -> {response.status_code}: {response.text[:300]}"
                )

        call()
    assert operations >= 60
    assert not errors, "\n".join(errors)
