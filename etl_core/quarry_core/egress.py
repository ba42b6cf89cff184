"""Where Quarry may send an Integration's credentials: the SSRF guard of every outbound request.

An Integration's `baseUrl` is the tenant's to write. Without a guard a tenant could point it at
the cloud's metadata service (and read the node's credentials through the connection check's
error text), at the platform's own database or broker, or at other tenants' internal services.

- Link-local addresses (169.254.0.0/16 with the metadata services, fe80::/10) are refused always.
- Private, loopback, shared and unspecified addresses are refused unless the platform allows them
  (`QUARRY_EGRESS_ALLOW_PRIVATE`): on for `quarry up` (a Jira Data Center on the LAN, the imitation
  servers), off by default on Kubernetes, where the chart's NetworkPolicy also holds.
- A URL with a `user:password@` part is refused: credentials come from the Secret only.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterable
from urllib.parse import urlsplit

from quarry_core.errors import FatalError

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

_ALWAYS_REFUSED = [ipaddress.ip_network(n) for n in ("169.254.0.0/16", "fe80::/10", "fd00:ec2::254/128")]


class EgressRefused(FatalError):
    """The destination is not one Quarry sends credentials to; the message says why."""


def _plain(address: IPAddress) -> IPAddress:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def refusal(url: str, addresses: Iterable[IPAddress], *, allow_private: bool) -> str | None:
    """Why `url` (whose host resolves to `addresses`) may not be called, or None (pure)."""
    parts = urlsplit(url)
    if parts.username is not None or parts.password is not None or "@" in parts.netloc:
        return f"{parts.scheme}://…@{parts.hostname}: a URL must not carry user:password@ (use the Secret)"
    for raw in addresses:
        address = _plain(raw)
        if any(address in net for net in _ALWAYS_REFUSED):
            return f"{parts.hostname} is {address}, a link-local address (cloud metadata); never called"
        if not allow_private and not address.is_global:
            return (
                f"{parts.hostname} is {address}, a private address; the platform does not allow "
                "those (QUARRY_EGRESS_ALLOW_PRIVATE)"
            )
    return None


def resolve(host: str, port: int) -> list[IPAddress]:
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror:
        return []  # the request itself reports the unknown host
    return [ipaddress.ip_address(info[4][0]) for info in infos]


def check_destination(url: str, *, allow_private: bool) -> None:
    """Raise EgressRefused unless credentials may be sent to `url` (resolving its host now)."""
    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    addresses = resolve(parts.hostname or "", port) if parts.hostname else []
    reason = refusal(url, addresses, allow_private=allow_private)
    if reason is not None:
        raise EgressRefused(reason)
