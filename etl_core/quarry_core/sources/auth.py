"""The Authorization header of an Integration, built in one place for the connection check and for
extraction, from the Secret keys the Integration names (`credentials.secretRef.keys`)."""

from __future__ import annotations

import base64
from collections.abc import Mapping

from quarry_core.errors import FatalError
from quarry_core.resources import IntegrationSpec
from quarry_core.sources.base import AuthStyle


class MissingCredential(FatalError):
    """The Secret lacks a key the Integration needs; the message names the Secret and the key."""


def auth_headers(spec: IntegrationSpec, credentials: Mapping[str, str]) -> dict[str, str]:
    keys, secret = spec.credentials.secret_ref.keys, spec.credentials.secret_ref.name

    def value(key: str) -> str:
        found = credentials.get(key)
        if not found:
            raise MissingCredential(f"Secret {secret} has no key {key!r}")
        return found

    token = value(keys.token)
    if spec.auth_style == AuthStyle.BASIC:
        user = value(keys.username)
        return {"Authorization": "Basic " + base64.b64encode(f"{user}:{token}".encode()).decode()}
    return {"Authorization": f"Bearer {token}"}
