"""The layers of core4flask point one way: import-linter's contracts in
pyproject.toml hold, ignore nothing, and the README's diagram shows them; no
module hides an import of another from them (inside a function, or behind
TYPE_CHECKING)."""

from __future__ import annotations

import ast
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
CONTRACTS = PYPROJECT["tool"]["importlinter"]["contracts"]
REQUEST_CORE = {
    "container",
    "static",
    "tenant",
    "handler",
    "pages",
    "response",
    "pagination",
    "errors",
    "arguments",
    "resource",
    "state",
    "exceptions",
}


def lint_imports() -> Path:
    script = Path(sys.executable).with_name("lint-imports")
    assert script.exists(), f"import-linter is a test dependency: {script} is missing"
    return script


def test_every_contract_is_kept():
    done = subprocess.run(
        [str(lint_imports()), "--no-cache"], cwd=ROOT, capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"Contracts: {len(CONTRACTS)} kept, 0 broken." in done.stdout


def test_no_contract_ignores_an_import():
    assert [c["name"] for c in CONTRACTS if c.get("ignore_imports")] == []


def test_the_layers_contract_names_every_module_and_the_request_core_in_one_layer():
    layers = CONTRACTS[0]["layers"]
    assert CONTRACTS[0]["exhaustive"] is True
    core_layer = next(layer for layer in layers if "handler" in layer)
    assert {name.strip() for name in core_layer.split(":")} == REQUEST_CORE
    ordered = CONTRACTS[1]["layers"]
    assert {name.strip() for layer in ordered for name in layer.split("|")} == REQUEST_CORE


def test_the_readme_diagram_shows_the_layers():
    readme = (ROOT / "README.md").read_text()
    layout = readme[readme.index("## Layout") :]
    for contract in CONTRACTS[:3]:
        for layer in contract["layers"]:
            for name in layer.replace("|", ":").split(":"):
                assert name.strip() in layout, f"README's layout does not show [{name.strip()}]"


def hidden_package_imports(source: str) -> list[str]:
    """Imports of core4flask modules a layers contract does not see as the
    module's own: inside a function, or under ``if TYPE_CHECKING``."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            for inner in ast.walk(node):
                if isinstance(inner, ast.ImportFrom) and (inner.level or (inner.module or "").startswith("core4flask")):
                    found.append(f"line {inner.lineno}: in {node.name}()")
                elif isinstance(inner, ast.Import) and any(a.name.startswith("core4flask") for a in inner.names):
                    found.append(f"line {inner.lineno}: in {node.name}()")
        elif isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            found.append(f"line {node.lineno}: TYPE_CHECKING")
    return found


def test_hidden_imports_are_found():
    source = (
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n"
        "    from . import app\n"
        "def f():\n"
        "    from .config import X\n"
    )
    assert hidden_package_imports(source) == ["line 2: TYPE_CHECKING", "line 5: in f()"]
    assert hidden_package_imports("def f():\n    import gevent\n") == []


def test_no_module_hides_an_import_of_another():
    hidden = {
        str(path.relative_to(ROOT)): found
        for path in sorted((ROOT / "core4flask").rglob("*.py"))
        if (found := hidden_package_imports(path.read_text()))
    }
    assert hidden == {}
