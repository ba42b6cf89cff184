"""check_integration against the imitation servers: each verdict, and never a secret in a message."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from typing import Any

import pytest

from quarry_core.integration_check import check_integration
from quarry_core.resources import IntegrationSpec
from quarry_sandbox import GithubConfig, GithubDataset, GithubServer, JiraConfig, JiraDataset, JiraServer

EMAIL, TOKEN, GH_TOKEN = "bot@quarry.dev", "s3cret-jira-token", "s3cret-gh-token"


@pytest.fixture(scope="module")
def servers() -> Iterator[tuple[str, str]]:
    jira = JiraServer(JiraDataset.synthetic(5, projects=1), JiraConfig(email=EMAIL, api_token=TOKEN)).start()
    gh = GithubServer(GithubDataset.synthetic(1, 2), GithubConfig(tokens=(GH_TOKEN,))).start()
    yield jira.base_url, gh.base_url
    jira.stop()
    gh.stop()


def spec(kind: str, url: str, **extra: Any) -> IntegrationSpec:
    scope = {"projects": ["ENG"]} if kind == "jira" else {"org": "acme"}
    doc = {"type": kind, "baseUrl": url, "credentials": {"secretRef": {"name": "c"}}, "scope": scope, **extra}
    return IntegrationSpec.model_validate(doc)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_verified(servers: tuple[str, str]) -> None:
    jira, gh = servers
    result = check_integration(spec("jira", jira), {"email": EMAIL, "token": TOKEN})
    assert (result.ready, result.reason) == (True, "Verified")
    result = check_integration(spec("github", gh), {"token": GH_TOKEN})
    assert (result.ready, result.reason) == (True, "Verified") and "quarry-bot" in result.message


def test_auth_failed_without_leaking(servers: tuple[str, str]) -> None:
    jira, gh = servers
    wrong = {"email": EMAIL, "token": "wrong-token-123"}
    result = check_integration(spec("jira", jira), wrong)
    assert (result.ready, result.reason) == (False, "AuthFailed")
    assert "wrong-token-123" not in result.message
    result = check_integration(spec("jira", jira, auth="bearer"), {"token": TOKEN})
    assert result.reason == "AuthFailed"  # the API token is not an OAuth bearer token
    assert check_integration(spec("github", gh), {"token": "nope-nope"}).reason == "AuthFailed"
    missing = check_integration(spec("github", gh), {})
    assert missing.reason == "AuthFailed" and "no key 'token'" in missing.message


def test_not_found_and_unreachable(servers: tuple[str, str]) -> None:
    jira, _ = servers
    result = check_integration(spec("jira", jira + "/wrong/prefix"), {"email": EMAIL, "token": TOKEN})
    assert (result.ready, result.reason) == (False, "NotFound")
    down = f"http://user:{TOKEN}@127.0.0.1:{free_port()}"
    result = check_integration(spec("jira", down), {"email": EMAIL, "token": TOKEN}, timeout=2)
    assert (result.ready, result.reason) == (False, "Unreachable")
    assert TOKEN not in result.message and "user" not in result.message
