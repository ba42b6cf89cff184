"""Where credentials may go: the SSRF decision (pure) and the baseUrl pattern."""

from __future__ import annotations

import ipaddress

import pytest
from pydantic import ValidationError

from quarry_core.egress import refusal
from quarry_core.resources import IntegrationSpec


def ips(*values: str) -> list[ipaddress.IPv4Address | ipaddress.IPv6Address]:
    return [ipaddress.ip_address(v) for v in values]


@pytest.mark.parametrize(
    "address", ["169.254.169.254", "169.254.10.1", "fe80::1", "::ffff:169.254.169.254", "fd00:ec2::254"]
)
def test_link_local_and_metadata_addresses_are_refused_always(address: str) -> None:
    reason = refusal("http://meta.internal/", ips(address), allow_private=True)
    assert reason is not None and "link-local" in reason


@pytest.mark.parametrize(
    "address", ["10.0.0.5", "172.16.3.4", "192.168.1.1", "127.0.0.1", "::1", "fc00::1", "0.0.0.0"]
)
def test_private_addresses_only_when_the_platform_allows(address: str) -> None:
    assert refusal("https://jira.lan/", ips(address), allow_private=True) is None
    reason = refusal("https://jira.lan/", ips(address), allow_private=False)
    assert reason is not None and "QUARRY_EGRESS_ALLOW_PRIVATE" in reason


def test_public_addresses_pass_and_one_bad_address_of_many_refuses() -> None:
    assert refusal("https://acme.atlassian.net/", ips("104.192.142.1"), allow_private=False) is None
    assert refusal("https://x.example/", ips("104.192.142.1", "10.0.0.1"), allow_private=False) is not None


def test_userinfo_is_refused_and_not_echoed() -> None:
    reason = refusal("https://bot:hunter2@acme.atlassian.net/", ips("104.192.142.1"), allow_private=True)
    assert reason is not None and "hunter2" not in reason and "user:password@" in reason


def test_the_crd_pattern_rejects_userinfo_in_base_url() -> None:
    doc = {"type": "jira", "credentials": {"secretRef": {"name": "c"}}, "scope": {"projects": ["ENG"]}}
    IntegrationSpec.model_validate({**doc, "baseUrl": "https://acme.atlassian.net/jira?x=a@b"})
    for bad in ("https://bot:t0k@acme.atlassian.net", "https://bot@acme.atlassian.net/"):
        with pytest.raises(ValidationError):
            IntegrationSpec.model_validate({**doc, "baseUrl": bad})
