"""The pipeline benchmark checks what it measures: the run Succeeded and every generated row loaded."""

from __future__ import annotations

import subprocess
import sys

from tests.support.recorded import REPO_ROOT
from tests.support.services import PG_ADMIN_URL, require


def test_pipeline_bench_runs_and_checks_its_result() -> None:
    require("PostgreSQL", PG_ADMIN_URL)
    result = subprocess.run(
        [sys.executable, str(REPO_ROOT / "bench" / "pipeline.py"), "--issues", "300"],
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "(work items 300, transitions 600, run Succeeded)" in result.stdout, result.stdout
