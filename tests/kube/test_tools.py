"""A missing kubectl/helm skips on a developer machine and fails under CI=true."""

from __future__ import annotations

import pathlib

import pytest

from tests.kube.tools import ToolUnavailableError, tool_or_skip


def _missing() -> pathlib.Path:
    raise ToolUnavailableError("helm: not on this machine")


def test_missing_tool_fails_under_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="CI needs it"):
        tool_or_skip(_missing)


def test_missing_tool_skips_outside_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="not on this machine"):
        tool_or_skip(_missing)
