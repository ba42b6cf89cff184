"""The chaos run at CI size: real `quarry up` on RabbitMQ, imitation servers answering 429/503,
worker and extract processes SIGKILLed, the broker and the database cut through TCP proxies.

Both jobs must end Succeeded with every final table identical to a clean run's, and every planned
fault must have been injected and logged. No timing is asserted beyond a generous safety limit;
`bench/chaos.py` at full size reports the times (docs/reliability.md).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.support.recorded import REPO_ROOT
from tests.support.services import AMQP_URL, PG_ADMIN_URL, require


def log_tails(logs: Path, lines: int = 60) -> str:
    """The last lines of every log the fault driver kept: what a hang in CI is diagnosed from."""
    tails = []
    for path in sorted(p for p in logs.rglob("*") if p.is_file()):
        text = path.read_text(errors="replace").splitlines()[-lines:]
        tails.append(f"==== {path.relative_to(logs)} (last {len(text)} lines)\n" + "\n".join(text))
    return "\n".join(tails) or f"no logs under {logs}"


def test_chaos_small(tmp_path: Path) -> None:
    require("PostgreSQL", PG_ADMIN_URL)
    require("RabbitMQ", AMQP_URL)
    report_path = tmp_path / "chaos.json"
    logs = tmp_path / "logs"
    try:
        check_chaos_run(report_path, logs)
    except BaseException:
        print(log_tails(logs))  # pytest shows it with the failure
        raise


def check_chaos_run(report_path: Path, logs: Path) -> None:
    # 3 worker kills and a broker cut, as the issue sizes it; an extract kill and a short database
    # cut too, since the local controller has to ride out both.
    result = subprocess.run(
        [
            sys.executable,
            str(REPO_ROOT / "bench" / "chaos.py"),
            "--issues",
            "2000",
            "--pulls",
            "60",
            "--worker-kills",
            "3",
            "--extract-kills",
            "1",
            "--broker-cut",
            "5",
            "--db-cut",
            "3",
            "--seed",
            "15",
            "--timeout",
            "240",
            "--json",
            str(report_path),
            "--logs",
            str(logs),
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert report_path.exists(), result.stdout[-3000:] + result.stderr[-3000:]
    report = json.loads(report_path.read_text())
    jobs = report["chaos"]["jobs"]
    assert {job: r["phase"] for job, r in jobs.items()} == {
        "jira-sync": "Succeeded",
        "github-sync": "Succeeded",
    }, result.stdout[-3000:]
    faults = report["faults"]
    kinds = sorted(f["kind"] for f in faults)
    assert kinds.count("broker-cut") == 1 and kinds.count("db-cut") == 1 and "kill-extract" in kinds
    assert sum(k.startswith("kill-") for k in kinds) == 4
    # every planned fault happened
    assert all(f["at_s"] is not None for f in faults), result.stdout[-3000:] + result.stderr[-3000:]
    for f in faults:
        assert f"{f['kind']}" in result.stdout  # and is in the log with its time
    different = {t: v["differences"] for t, v in report["tables"].items() if not v["equal"]}
    assert different == {}, different
    assert report["tables"]["work_items"]["chaos_rows"] == 2000
    assert result.returncode == 0, result.stdout[-3000:]
    assert report["chaos"]["seconds"] < 400  # a safety limit, not a performance claim
