"""Secrets stay out of reprs, logs and error messages."""

from __future__ import annotations

import logging

import pytest

from quarry_core.manifests import ManifestError, load_manifests
from quarry_core.settings import CoreSettings

TOKEN = "ghp_hunter2hunter2"


def test_settings_that_hold_credentials_never_show_them(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("DATABASE_URL", f"postgresql://quarry:{TOKEN}@db/quarry")
    monkeypatch.setenv("AMQP_URL", f"amqp://quarry:{TOKEN}@mq/")
    monkeypatch.setenv("RABBITMQ_MANAGEMENT_URL", f"http://quarry:{TOKEN}@mq:15672")
    monkeypatch.setenv("QUARRY_SECRET_KEY", TOKEN)
    settings = CoreSettings()
    with caplog.at_level(logging.INFO):
        logging.getLogger("test").info("settings: %s %r", settings, settings)
    for shown in (
        repr(settings),
        str(settings),
        settings.model_dump_json(),
        str(settings.model_dump()),
        caplog.text,
    ):
        assert TOKEN not in shown
    assert settings.database_url is not None and TOKEN in settings.database_url.get_secret_value()


def test_a_yaml_error_in_a_secret_names_the_place_not_the_line() -> None:
    text = (
        "apiVersion: v1\nkind: Secret\nmetadata: {name: jira-creds, namespace: acme}\n"
        f'stringData:\n  token: "{TOKEN}\n  email: bot@acme.io\n'
    )
    with pytest.raises(ManifestError) as caught:
        load_manifests(text)
    message = str(caught.value)
    assert TOKEN not in message and "hunter" not in message
    assert "line 5, column 10" in message
