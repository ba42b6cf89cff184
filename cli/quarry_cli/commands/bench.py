"""`quarry bench [e2e|chaos|tenants] [ARGS...]`: run a benchmark of the source checkout.

The benchmarks (`bench/`) start imitation servers and a `quarry up` of their own; they are no part
of the installed package, so this command runs them from the checkout Quarry was installed from
(`pip install -e .`) or from the current directory, and says so plainly when neither has them.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from quarry_core.errors import ConfigError

SCRIPTS = {
    "e2e": "Quarry against a plain fetch and dlt on imitation Jira and GitHub; writes docs/benchmarks.md",
    "chaos": "a Jira and a GitHub job on RabbitMQ while processes die and services go away",
    "tenants": "one tenant's large backfill against many small incremental tenants (fairness)",
}


def register(subparsers: Any) -> None:
    bench = subparsers.add_parser(
        "bench",
        help="run a benchmark of the source checkout (bench/e2e.py, chaos.py, tenants.py)",
        description="Run bench/<SCRIPT>.py of the source checkout with this Python, passing the remaining "
        "arguments through (`quarry bench --issues 2000`, `quarry bench chaos --help`). "
        + " ".join(f"{name}: {what}." for name, what in SCRIPTS.items()),
    )
    bench.add_argument("script", nargs="?", choices=sorted(SCRIPTS), default="e2e", help="default: e2e")
    bench.add_argument("args", nargs=argparse.REMAINDER, help="passed to the script")
    bench.set_defaults(func=run_bench)


def with_script(argv: Sequence[str]) -> list[str]:
    """`quarry bench --issues 10` means `quarry bench e2e --issues 10` (argparse cannot tell a
    script's options from the positional's absence by itself)."""
    out = list(argv)
    if len(out) > 1 and out[0] == "bench" and out[1].startswith("-") and out[1] not in ("-h", "--help"):
        out.insert(1, "e2e")
    return out


def candidate_roots() -> list[Path]:
    """Where a checkout may be: the one this package was installed from (editable), then the
    current directory."""
    here = Path(__file__).resolve().parents[3]
    return list(dict.fromkeys([here, Path.cwd().resolve()]))


def find_script(name: str, roots: Sequence[Path]) -> Path:
    for root in roots:
        script = root / "bench" / f"{name}.py"
        if script.is_file():
            return script
    looked = ", ".join(str(r / "bench") for r in roots)
    raise ConfigError(
        f"bench/{name}.py not found (looked in {looked}): the benchmarks are not part of the installed "
        "package; run `quarry bench` from a source checkout of Quarry, or install one with `pip install -e .`"
    )


def run_bench(args: argparse.Namespace) -> int:
    script = find_script(args.script, candidate_roots())
    return subprocess.run([sys.executable, str(script), *args.args]).returncode
