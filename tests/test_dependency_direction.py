"""The apps depend on each other in one direction only (docs/architecture.md):
common ← audit ← tenants ← casino ← wallet ← payments. The composition root
(casino/settings.py, casino/urls.py), the portal and the tests may import anything."""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
LAYERS = [
    "common",
    "audit",
    "tenants",
    "casino",
    "wallet",
    "payments",
    "reconciliation",
]
COMPOSITION_ROOT = {ROOT / "casino" / "settings.py", ROOT / "casino" / "urls.py"}


def imported_apps(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
        elif isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
    return names & (set(LAYERS) | {"portal"})


def app_files(app: str) -> list[Path]:
    return [
        path
        for path in sorted((ROOT / app).rglob("*.py"))
        if path not in COMPOSITION_ROOT and "migrations" not in path.parts
    ]


@pytest.mark.parametrize("app", LAYERS)
def test_app_imports_only_the_apps_below_it(app):
    allowed = set(LAYERS[: LAYERS.index(app) + 1])
    offending = {
        str(path.relative_to(ROOT)): sorted(imported_apps(path) - allowed)
        for path in app_files(app)
        if imported_apps(path) - allowed
    }
    assert offending == {}
