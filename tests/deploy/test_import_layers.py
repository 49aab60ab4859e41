"""The layers hold: import-linter's contracts (pyproject.toml), no import cycle, no import hidden in a function.

README, "Layout", names the rule: core <- models <- domain <- web <- channels.
A new upward import or cycle fails here before it lands.
"""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.processes import ROOT
from tests.support.services import unavailable

PACKAGE = ROOT / "blasto"


def lint_imports() -> str:
    beside_python = Path(sys.executable).with_name("lint-imports")
    command = str(beside_python) if beside_python.exists() else shutil.which("lint-imports")
    if command is None:
        unavailable("lint-imports (import-linter, a dev package of the Pipfile) is not installed")
    return command


@pytest.mark.processes
def test_lint_imports_keeps_every_contract():
    result = subprocess.run([lint_imports(), "--no-cache"], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(module: str) -> None:
        index[module] = low[module] = len(index)
        stack.append(module)
        for imported in edges.get(module, ()):
            if imported not in index:
                visit(imported)
                low[module] = min(low[module], low[imported])
            elif imported in stack:
                low[module] = min(low[module], index[imported])
        if low[module] == index[module]:
            component = []
            while True:
                member = stack.pop()
                component.append(member)
                if member == module:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for module in sorted(edges):
        if module not in index:
            visit(module)
    return found


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path, modules: set[str]) -> set[str]:
    """The blasto modules `path` imports, anywhere in it (`from pkg import module` names the module)."""
    package = module_name(path) if path.name == "__init__.py" else module_name(path).rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(
                    [*package.split(".")[: len(package.split(".")) - node.level + 1], *([base] if base else [])]
                )
            named = [f"{base}.{alias.name}" for alias in node.names]
            targets = [name for name in named if name in modules] or [base]
        else:
            continue
        for target in targets:
            while target and target not in modules:
                target = target.rpartition(".")[0]
            if target:
                found.add(target)
    return found


def blueprint_idiom(importer: str, imported: str) -> bool:
    """A package's __init__ importing its own route modules (after creating the blueprint they attach to)."""
    return imported.startswith(importer + ".")


def test_no_module_imports_one_that_imports_it_back():
    paths = {module_name(path): path for path in PACKAGE.rglob("*.py")}
    edges = {
        module: {
            imported
            for imported in imports(path, set(paths))
            if imported != module and not blueprint_idiom(module, imported)
        }
        for module, path in paths.items()
    }
    assert edges["blasto.app"], "the graph is read"
    assert cycles(edges) == []


def test_the_cycle_finder_finds_a_cycle():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def function_level_imports(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = []
    for function in ast.walk(tree):
        if not isinstance(function, (ast.FunctionDef, ast.AsyncFunctionDef)):
            continue
        for node in ast.walk(function):
            if isinstance(node, ast.ImportFrom):
                names = [f"{'.' * node.level}{node.module or ''}"]
            elif isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            else:
                continue
            if any(name.startswith(("blasto", ".")) for name in names):
                found.append(f"{path.relative_to(ROOT)}:{node.lineno}: {', '.join(names)}")
    return found


def test_no_function_imports_a_blasto_module():
    """An import inside a function hides a dependency (and so a cycle) from a reader and from import-linter's layers."""
    found = [line for path in sorted(PACKAGE.rglob("*.py")) for line in function_level_imports(path)]
    assert found == []
