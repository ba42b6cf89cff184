"""The end-to-end benchmark at a tiny size, through `quarry bench`: it completes, every Quarry run
Succeeded and loaded exactly the imitation's items, and the table is written. No timing is
asserted (a smoke test)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.support.services import AMQP_URL, PG_ADMIN_URL, require


def test_bench_e2e_at_a_tiny_size(tmp_path: Path) -> None:
    require("PostgreSQL", PG_ADMIN_URL)
    require("RabbitMQ", AMQP_URL)
    docs, figures = tmp_path / "benchmarks.md", tmp_path / "bench.json"
    args = ["--issues", "150", "--small-issues", "40", "--prs", "12", "--latency-ms", "20", "--no-dlt"]
    args += ["--timeout", "120", "--docs", str(docs), "--json", str(figures)]
    done = subprocess.run(
        [sys.executable, "-m", "quarry_cli.main", "bench", *args],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    rows = json.loads(figures.read_text())
    quarry = [r for r in rows if r["tool"].startswith("Quarry")]
    cases = {(r["case"], r["tool"], r["latency_ms"]) for r in quarry}
    for backend in ("Quarry rabbitmq", "Quarry postgresql"):
        want = {("small", backend, 0), ("full", backend, 0), ("full", backend, 20), ("github", backend, 0)}
        assert want <= cases
    assert ("incremental", "Quarry postgresql", 0) in cases
    assert all(r["phase"] == "Succeeded" and r["complete"] for r in quarry), quarry
    assert all(r["requests"] > 0 and r["peak_rss_mib"] for r in quarry)
    plain = [r for r in rows if r["tool"] == "plain fetch"]
    assert {r["latency_ms"] for r in plain} == {0, 20} and all(r["items"] == 150 for r in plain)
    assert any(r["tool"] == "dlt rest_api" and r["phase"] == "not run" for r in rows)  # says why
    table = docs.read_text()
    assert table.startswith("# Benchmarks") and "| Quarry rabbitmq |" in table and "÷ plain fetch" in table
