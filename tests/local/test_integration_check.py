"""check_integration against the imitation servers: each verdict, and never a secret in a message."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from functools import partial
from typing import Any

import pytest

from quarry_core.integration_check import check_integration
from quarry_core.resources import IntegrationSpec
from quarry_sandbox import GithubConfig, GithubDataset, GithubServer, JiraConfig, JiraDataset, JiraServer

EMAIL, TOKEN, GH_TOKEN = "bot@quarry.dev", "s3cret-jira-token", "s3cret-gh-token"
# The imitation servers listen on 127.0.0.1: a private address the platform must allow.
check = partial(check_integration, allow_private=True)


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
    result = check(spec("jira", jira), {"email": EMAIL, "token": TOKEN})
    assert (result.ready, result.reason) == (True, "Verified")
    result = check(spec("github", gh), {"token": GH_TOKEN})
    assert (result.ready, result.reason) == (True, "Verified") and "quarry-bot" in result.message


def test_auth_failed_without_leaking(servers: tuple[str, str]) -> None:
    jira, gh = servers
    wrong = {"email": EMAIL, "token": "wrong-token-123"}
    result = check(spec("jira", jira), wrong)
    assert (result.ready, result.reason) == (False, "AuthFailed")
    assert "wrong-token-123" not in result.message
    result = check(spec("jira", jira, auth="bearer"), {"token": TOKEN})
    assert result.reason == "AuthFailed"  # the API token is not an OAuth bearer token
    assert check(spec("github", gh), {"token": "nope-nope"}).reason == "AuthFailed"
    missing = check(spec("github", gh), {})
    assert missing.reason == "AuthFailed" and "no key 'token'" in missing.message


def test_not_found_and_unreachable(servers: tuple[str, str]) -> None:
    jira, _ = servers
    result = check(spec("jira", jira + "/wrong/prefix"), {"email": EMAIL, "token": TOKEN})
    assert (result.ready, result.reason) == (False, "NotFound")
    down = f"http://127.0.0.1:{free_port()}"  # (a user:password@ part is refused by the schema)
    result = check(spec("jira", down), {"email": EMAIL, "token": TOKEN}, timeout=2)
    assert (result.ready, result.reason) == (False, "Unreachable")
    assert TOKEN not in result.message


def test_private_and_metadata_addresses_are_refused_before_any_request(servers: tuple[str, str]) -> None:
    jira, _ = servers
    creds = {"email": EMAIL, "token": TOKEN}
    refused = check_integration(spec("jira", jira), creds)  # the platform allows no private address
    assert (refused.ready, refused.reason) == (False, "EgressRefused")
    assert "127.0.0.1" in refused.message and "QUARRY_EGRESS_ALLOW_PRIVATE" in refused.message
    metadata = check(spec("jira", "http://169.254.169.254/latest/meta-data"), creds)  # allowed or not
    assert metadata.reason == "EgressRefused" and "link-local" in metadata.message


def test_a_github_app_installation_token_is_verified_without_get_user() -> None:
    gh = GithubServer(
        GithubDataset.synthetic(1, 3), GithubConfig(tokens=(), installation_tokens=("ghs_installation",))
    ).start()
    try:
        result = check(spec("github", gh.base_url), {"token": "ghs_installation"})
    finally:
        gh.stop()
    assert (result.ready, result.reason) == (True, "Verified"), result.message
    assert "installation" in result.message
