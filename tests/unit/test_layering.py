"""Dependencies point one way: every process imports the shared core; the core imports none of
them, and no service imports another (a small stand-in for an import-linter contract)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = {
    "quarry_core": ROOT / "etl_core" / "quarry_core",
    "quarry_local": ROOT / "etl_core" / "quarry_local",
    "quarry_operator": ROOT / "operator" / "quarry_operator",
    "quarry_backend": ROOT / "services" / "backend" / "quarry_backend",
    "quarry_extractor": ROOT / "services" / "extractor" / "quarry_extractor",
    "quarry_workers": ROOT / "services" / "workers" / "quarry_workers",
    "quarry_sandbox": ROOT / "services" / "sandbox" / "quarry_sandbox",
}
# What each package may import besides itself (quarry_cli, the command line, may import all).
ALLOWED: dict[str, set[str]] = {
    "quarry_core": set(),
    "quarry_local": {"quarry_core", "quarry_sandbox"},  # `quarry up --demo` starts the sandbox
    "quarry_operator": {"quarry_core"},
    "quarry_backend": {"quarry_core"},
    "quarry_extractor": {"quarry_core"},
    "quarry_workers": {"quarry_core"},
    "quarry_sandbox": set(),
}


def imported_packages(path: Path) -> set[str]:
    found: set[str] = set()
    for file in path.rglob("*.py"):
        tree = ast.parse(file.read_text(), filename=str(file))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                found.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                found.add(node.module.split(".")[0])
    return {name for name in found if name.startswith("quarry_")}


@pytest.mark.parametrize("package", sorted(PACKAGES))
def test_package_imports_only_what_it_may(package: str) -> None:
    path = PACKAGES[package]
    if not path.exists():
        pytest.skip(f"{package} does not exist yet")
    forbidden = imported_packages(path) - ALLOWED[package] - {package}
    assert not forbidden, f"{package} must not import {sorted(forbidden)}"
