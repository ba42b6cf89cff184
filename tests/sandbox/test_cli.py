"""``python -m quarry_sandbox`` runs a server in the foreground and stops on SIGTERM."""

from __future__ import annotations

import signal
import subprocess
import sys

import httpx
import pytest


@pytest.mark.parametrize(
    ("argv", "path", "auth"),
    [
        (
            ["jira", "--issues", "40", "--seed", "3"],
            "/rest/api/3/myself",
            {"Authorization": "Bearer jira-oauth-token"},
        ),
        (["github", "--repos", "1", "--pulls", "5"], "/user", {"Authorization": "token gh-token"}),
    ],
)
def test_module_entry_point(argv: list[str], path: str, auth: dict[str, str]) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "quarry_sandbox", *argv, "--port", "0"], stdout=subprocess.PIPE, text=True
    )
    try:
        assert proc.stdout is not None
        base_url = proc.stdout.readline().strip()
        assert base_url.startswith("http://127.0.0.1:")
        assert httpx.get(base_url + path, headers=auth, timeout=5).status_code == 200
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
