"""Imports point down, in layers: the core at the bottom; the services and the two runtimes above
it, none importing a sibling; the `quarry` command line on top. Every package is covered and there
is no exception list (a small stand-in for an import-linter contract)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CORE = "quarry_core"
MIDDLE = ("quarry_extractor", "quarry_workers", "quarry_backend", "quarry_local", "quarry_operator")
TOP = "quarry_cli"
DEV_TOOL = "quarry_sandbox"  # imitation servers: only the command line's demo may start them
PACKAGES = {
    CORE: ROOT / "etl_core" / CORE,
    "quarry_extractor": ROOT / "services" / "extractor" / "quarry_extractor",
    "quarry_workers": ROOT / "services" / "workers" / "quarry_workers",
    "quarry_backend": ROOT / "services" / "backend" / "quarry_backend",
    "quarry_local": ROOT / "local" / "quarry_local",
    "quarry_operator": ROOT / "operator" / "quarry_operator",
    TOP: ROOT / "cli" / TOP,
    DEV_TOOL: ROOT / "services" / "sandbox" / DEV_TOOL,
}
ALLOWED: dict[str, set[str]] = {
    CORE: set(),
    **{name: {CORE} for name in MIDDLE},
    TOP: {CORE, *MIDDLE, DEV_TOOL},
    DEV_TOOL: set(),
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


def test_every_package_on_disk_has_a_layer() -> None:
    on_disk = {p.parent.name for p in ROOT.glob("*/quarry_*/__init__.py")}
    on_disk |= {p.parent.name for p in ROOT.glob("*/*/quarry_*/__init__.py") if ".venv" not in p.parts}
    assert on_disk == set(PACKAGES)


@pytest.mark.parametrize("package", sorted(PACKAGES))
def test_package_imports_only_what_it_may(package: str) -> None:
    path = PACKAGES[package]
    assert path.is_dir(), f"{package} is missing at {path}"
    forbidden = imported_packages(path) - ALLOWED[package] - {package}
    assert not forbidden, f"{package} must not import {sorted(forbidden)}"


def test_production_code_never_imports_the_imitation_servers_at_module_level() -> None:
    """Only `quarry up --demo` starts them, imported inside the function that needs them, so the
    production image (which leaves the sandbox out) never loads them."""
    for file in PACKAGES[TOP].rglob("*.py"):
        tree = ast.parse(file.read_text(), filename=str(file))
        for node in tree.body:
            names = (
                [a.name for a in node.names] if isinstance(node, ast.Import)
                else [node.module or ""] if isinstance(node, ast.ImportFrom) else []
            )
            assert not any(n.startswith(DEV_TOOL) for n in names), f"{file} imports {DEV_TOOL} at the top"
