"""The container image, built with podman here (scripts/build-image) and run as users run it:
an arbitrary non-root uid, a read-only root filesystem, no capabilities."""

from __future__ import annotations

import json
import socket
import time
import uuid

import httpx
from sqlalchemy import create_engine, inspect

from tests.image.conftest import TAG, podman
from tests.support.services import temporary_database

RUN_AS = ["--user", "12345:0", "--read-only", "--cap-drop=ALL", "--security-opt=no-new-privileges"]


def test_help_runs_as_an_arbitrary_uid_on_a_read_only_root(image: dict[str, str]) -> None:
    result = podman(image, "run", "--rm", *RUN_AS, TAG, "--help")
    assert result.returncode == 0, result.stderr
    for command in ("up", "apply", "run", "extract", "worker", "operator", "migrate"):
        assert command in result.stdout


def test_the_image_is_lean_and_runs_as_non_root(image: dict[str, str]) -> None:
    config = json.loads(podman(image, "image", "inspect", TAG).stdout)[0]["Config"]
    assert config["User"].split(":")[0] not in ("", "0", "root")
    assert config["Entrypoint"] == ["quarry"]
    probe = podman(
        image, "run", "--rm", "--entrypoint", "sh", TAG, "-c",
        "command -v gcc cc pip3 || true; ls /root/.cache 2>/dev/null || true;"
        " /opt/quarry/bin/python -c 'import quarry_sandbox' 2>&1 | tail -n1;"
        " /opt/quarry/bin/python -c"
        " 'import quarry_backend, quarry_operator, quarry_workers, quarry_extractor, quarry_local'",
    )
    assert probe.returncode == 0, probe.stdout + probe.stderr
    assert "ModuleNotFoundError: No module named 'quarry_sandbox'" in probe.stdout
    assert "gcc" not in probe.stdout and "/cc" not in probe.stdout


def test_migrate_against_the_machines_postgresql(image: dict[str, str]) -> None:
    with temporary_database("quarry_image") as url:
        engine = create_engine(url)
        with engine.begin() as conn:  # start from an empty schema: the container must create it all
            conn.exec_driver_sql("DROP SCHEMA public CASCADE; CREATE SCHEMA public")
        result = podman(
            image, "run", "--rm", "--network=host", *RUN_AS, "-e", f"DATABASE_URL={url}", TAG, "migrate"
        )
        assert result.returncode == 0, result.stdout + result.stderr
        tables = set(inspect(engine).get_table_names())
        engine.dispose()
        assert {"raw_extraction_data", "work_items", "pull_requests", "etl_runs"} <= tables


def test_every_process_entry_point_answers_help(image: dict[str, str]) -> None:
    for args in (["extract", "--help"], ["worker", "transform", "--help"], ["worker", "load", "--help"],
                 ["worker", "embed", "--help"], ["operator", "--help"]):
        result = podman(image, "run", "--rm", *RUN_AS, TAG, *args)
        assert result.returncode == 0, (args, result.stderr)




def test_the_api_serves_healthz_and_the_dashboard_from_inside_the_container(image: dict[str, str]) -> None:
    with temporary_database("quarry_image_api") as url:
        port = free_port()
        name = f"quarry-api-{uuid.uuid4().hex[:6]}"
        env = ["-e", f"DATABASE_URL={url}", "-e", f"QUARRY_JWT_SECRET={uuid.uuid4().hex}"]
        started = podman(image, "run", "-d", "--name", name, "--network=host", *RUN_AS, *env,
                         TAG, "api", "--host=127.0.0.1", f"--port={port}")
        assert started.returncode == 0, started.stderr
        try:
            health = wait_for(f"http://127.0.0.1:{port}/healthz")
            assert health.status_code == 200
            page = wait_for(f"http://127.0.0.1:{port}/")
            assert page.status_code == 200 and "text/html" in page.headers["content-type"]
            assert '<div id="root"' in page.text
            deep = httpx.get(f"http://127.0.0.1:{port}/jobs/some-job", timeout=5)  # the app's own routes
            assert deep.status_code == 200 and '<div id="root"' in deep.text
        finally:
            podman(image, "rm", "-f", "-t", "2", name)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for(url: str, timeout: float = 60) -> httpx.Response:
    deadline = time.monotonic() + timeout
    while True:
        try:
            return httpx.get(url, timeout=2)
        except httpx.HTTPError:
            assert time.monotonic() < deadline, f"{url} did not answer"
            time.sleep(0.5)
