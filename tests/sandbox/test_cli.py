"""``python -m quarry_sandbox`` runs a server in the foreground and stops on SIGTERM."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import pytest

from tests.support.recorded import DEVLAKE_DIR, REPO_ROOT


@contextmanager
def sandbox(*argv: str, env: dict[str, str] | None = None) -> Iterator[str]:
    """`python -m quarry_sandbox ARGV --port 0`: its base URL; it must stop cleanly on SIGTERM."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "quarry_sandbox", *argv, "--port", "0"],
        env=env,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        yield proc.stdout.readline().strip()
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


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
    with sandbox(*argv) as base_url:
        assert base_url.startswith("http://127.0.0.1:")
        assert httpx.get(base_url + path, headers=auth, timeout=5).status_code == 200


def test_fixture_mode_takes_its_folder_from_the_caller() -> None:
    env = {k: v for k, v in os.environ.items() if k != "QUARRY_FIXTURES_DIR"}
    nowhere = subprocess.run(
        [sys.executable, "-m", "quarry_sandbox", "jira", "--fixtures", "--port", "0"],
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert nowhere.returncode == 2 and "QUARRY_FIXTURES_DIR" in nowhere.stderr
    if not DEVLAKE_DIR.is_dir():
        pytest.skip(f"{DEVLAKE_DIR} is not present")
    with sandbox("jira", "--fixtures", env={**env, "QUARRY_FIXTURES_DIR": str(DEVLAKE_DIR)}) as base_url:
        auth = ("bot@quarry.dev", "jira-token")
        projects = httpx.get(base_url + "/rest/api/3/project", auth=auth, timeout=5).json()
        assert {"EE", "K5", "HEAP"} <= {p["key"] for p in projects}  # the recordings, not synthetic data


def test_product_code_names_no_fixture_location() -> None:
    product = [REPO_ROOT / d for d in ("etl_core", "operator", "services")]
    offenders = [
        str(path.relative_to(REPO_ROOT))
        for root in product
        for path in root.rglob("*.py")
        if any(word in path.read_text(encoding="utf-8") for word in ("shared/fixtures", "/work/"))
    ]
    assert offenders == []
