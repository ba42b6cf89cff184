"""`quarry bench`: finds the checkout's bench scripts, passes arguments through, and says clearly
when there is no checkout. (The tiny-size run through it is tests/bench/test_bench_smoke.py.)"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from quarry_cli.commands.bench import candidate_roots, find_script, with_script
from quarry_core.errors import ConfigError

ROOT = Path(__file__).resolve().parents[2]


def quarry(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "quarry_cli.main", *args], capture_output=True, text=True, cwd=cwd, timeout=120
    )


def test_help_names_every_script() -> None:
    done = quarry("bench", "--help")
    assert done.returncode == 0, done.stderr
    assert all(name in done.stdout for name in ("e2e", "chaos", "tenants"))


@pytest.mark.parametrize(("script", "option"), [("e2e", "--issues"), ("chaos", "--worker-kills"),
                                                 ("tenants", "--backfill")])  # fmt: skip
def test_a_scripts_own_help_passes_through(script: str, option: str, tmp_path: Path) -> None:
    done = quarry("bench", script, "--help", cwd=tmp_path)  # found from the package, not the cwd
    assert done.returncode == 0, done.stderr
    assert option in done.stdout


def test_options_without_a_script_go_to_e2e() -> None:
    assert with_script(["bench", "--issues", "10"]) == ["bench", "e2e", "--issues", "10"]
    assert with_script(["bench", "chaos", "--issues", "10"]) == ["bench", "chaos", "--issues", "10"]
    assert with_script(["bench", "--help"]) == ["bench", "--help"]
    assert with_script(["run", "--wait"]) == ["run", "--wait"]


def test_the_checkout_is_found_and_its_absence_explained(tmp_path: Path) -> None:
    assert candidate_roots()[0] == ROOT
    assert find_script("e2e", candidate_roots()) == ROOT / "bench" / "e2e.py"
    with pytest.raises(ConfigError, match=r"bench/e2e.py not found .* source checkout"):
        find_script("e2e", [tmp_path])
