"""`quarry migrate` and `quarry queues` as a user runs them, including with no environment at all."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from quarry_cli.main import build_parser
from quarry_core.db.embedded import stop_embedded


def quarry(*args: str, env: dict[str, str], timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "quarry_cli.main", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def clean_env(**extra: str) -> dict[str, str]:
    keep = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "PYTHONPATH", "CI")}
    return {**keep, **extra}


def test_migrate_and_queues_on_embedded_postgres_with_no_settings(tmp_path: Path) -> None:
    env = clean_env(HOME=str(tmp_path))  # default data dir is ~/.quarry
    try:
        first = quarry("migrate", env=env)
        assert first.returncode == 0, first.stderr
        assert "upgraded from empty" in first.stdout
        second = quarry("migrate", env=env)
        assert second.returncode == 0, second.stderr
        assert "is current" in second.stdout
        queues = quarry("queues", "-o", "json", env=env)
        assert queues.returncode == 0, queues.stderr
        data = json.loads(queues.stdout)
        assert data["backend"] == "postgresql"
        assert [q["queue"] for q in data["queues"]] == ["quarry.extract", "quarry.transform", "quarry.load"]
        assert (tmp_path / ".quarry" / "pgdata" / "PG_VERSION").exists()
        down = quarry("down", env=env)
        assert down.returncode == 0, down.stderr
        assert "stopped the embedded PostgreSQL" in down.stdout
        assert not (tmp_path / ".quarry" / "pgdata" / "postmaster.pid").exists()
        again = quarry("down", env=env)
        assert "is not running" in again.stdout
    finally:
        stop_embedded(tmp_path / ".quarry")


def test_queues_on_rabbitmq(amqp_url: str, database_url: str, queue_prefix: str) -> None:
    env = clean_env(DATABASE_URL=database_url, AMQP_URL=amqp_url, QUARRY_QUEUE_PREFIX=queue_prefix)
    result = quarry("queues", "-o", "json", env=env)
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["backend"] == "rabbitmq"
    assert data["queues"][1]["queue"] == f"{queue_prefix}.transform"
    from quarry_core.queue.rabbit import RabbitQueue

    RabbitQueue(amqp_url, prefix=queue_prefix).delete_topology()


@pytest.mark.parametrize(
    ("setting", "value", "expected"),
    [
        ("DATABASE_URL", "postgresql://nobody@127.0.0.1:1/none", "DATABASE_URL: cannot connect"),
        ("DATABASE_URL", "mysql://x@y/z", "DATABASE_URL"),
        ("AMQP_URL", "amqp://guest:guest@127.0.0.1:1/", "AMQP_URL: cannot connect"),
        ("AMQP_URL", "amqp://guest:wrong@127.0.0.1:5672/", "AMQP_URL: authentication failed"),
    ],
)
def test_wrong_urls_give_one_clear_line(database_url: str, setting: str, value: str, expected: str) -> None:
    env = clean_env(**{"DATABASE_URL": database_url, setting: value})
    result = quarry("queues" if setting == "AMQP_URL" else "migrate", env=env, timeout=60)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("quarry: error: ")
    assert expected in lines[0]
    assert "wrong" not in lines[0]  # the password is redacted
    assert "Traceback" not in result.stderr


def command_paths(parser: argparse.ArgumentParser, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    """Every command and sub-command the parser knows, read from the parser itself."""
    paths = [prefix]
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                paths += command_paths(sub, (*prefix, name))
    return paths


def test_help_works_for_every_command() -> None:
    paths = command_paths(build_parser())
    names = {p[0] for p in paths if p}
    # the public contract's commands; a renamed or dropped one fails here
    assert {"up", "apply", "run", "get", "delete", "migrate", "queues", "down", "extract", "worker",
            "operator", "retransform"} <= names, names
    for path in paths:
        result = quarry(*path, "--help", env=clean_env())
        assert result.returncode == 0, (path, result.stderr)
        usage = " ".join(("usage: quarry", *path))
        assert usage in " ".join(result.stdout.split()), (path, result.stdout)


def test_queues_with_the_management_api_down_is_one_line_not_a_traceback(
    database_url: str, amqp_url: str
) -> None:
    env = clean_env(
        DATABASE_URL=database_url,
        AMQP_URL=amqp_url,
        RABBITMQ_MANAGEMENT_URL="http://127.0.0.1:9",  # nothing listens on port 9
        QUARRY_QUEUE_PREFIX="qtmgmtdown",
    )
    result = quarry("queues", env=env)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert result.stderr.splitlines()[-1].startswith("quarry: error: unacked count of qtmgmtdown.")
