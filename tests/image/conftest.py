"""The image, built once per test session with podman (scripts/build-image)."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.services import in_ci

ROOT = Path(__file__).resolve().parents[2]
TAG = "localhost/quarry:test"


def podman_env() -> dict[str, str]:
    out = subprocess.run(
        ["bash", "-c", "source scripts/podman-env && env -0"], cwd=ROOT, capture_output=True, check=True
    ).stdout
    return dict(line.split("=", 1) for line in out.decode().split("\0") if "=" in line)


@pytest.fixture(scope="session")
def image() -> Iterator[dict[str, str]]:
    if shutil.which("podman") is None:
        if in_ci():
            pytest.fail("podman is not installed; scripts/system-deps installs it", pytrace=False)
        pytest.skip("podman is not installed (bash scripts/system-deps)")
    built = subprocess.run(
        ["bash", "scripts/build-image", TAG], cwd=ROOT, capture_output=True, text=True, timeout=1500
    )
    assert built.returncode == 0, built.stdout[-3000:] + built.stderr[-3000:]
    print(built.stdout.splitlines()[-1])  # the image size, in the test log
    yield podman_env()


def podman(env: dict[str, str], *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["podman", *args], env=env, capture_output=True, text=True, timeout=timeout)


