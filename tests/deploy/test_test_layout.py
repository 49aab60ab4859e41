"""Test helpers live in tests/support/, never in a conftest.py that other modules import.

A conftest is pytest's to load (its fixtures and hooks); importing one as a library
loads it a second time under another name, hides a helper where no reader looks,
and invites import cycles. README, "Layout", says where each helper lives.
"""

from __future__ import annotations

import ast
from pathlib import Path

from tests.support.processes import ROOT

SCANNED = ("tests", "bench")


def is_conftest(module: str) -> bool:
    return module.rpartition(".")[2] == "conftest"


def conftest_imports(source: str, where: str) -> list[str]:
    """Each import of a conftest module in `source`, at any depth, as "where:line: the import", in line order."""
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom):
            base = "." * node.level + (node.module or "")
            if is_conftest(base) or any(alias.name == "conftest" for alias in node.names):
                found.append((node.lineno, f"from {base} import {', '.join(alias.name for alias in node.names)}"))
        elif isinstance(node, ast.Import):
            found.extend((node.lineno, f"import {alias.name}") for alias in node.names if is_conftest(alias.name))
    return [f"{where}:{line}: {text}" for line, text in sorted(found)]


def scanned_files() -> list[Path]:
    return sorted(path for folder in SCANNED for path in (ROOT / folder).rglob("*.py"))


def test_no_module_imports_a_conftest():
    """Move a shared helper to tests/support/ (a module named for what it holds) and import it from there."""
    paths = scanned_files()
    assert ROOT / "tests" / "support" / "factories.py" in paths and ROOT / "bench" / "run.py" in paths
    found = [
        line
        for path in paths
        for line in conftest_imports(path.read_text(encoding="utf-8"), str(path.relative_to(ROOT)))
    ]
    assert found == []


def test_the_finder_names_each_kind_of_conftest_import_with_its_line():
    source = "\n".join(
        [
            "from tests.conftest import migrated",
            "from tests.api.conftest import basic, bearer",
            "from . import conftest",
            "from .conftest import ADMIN",
            "import tests.functional.conftest",
            "def helper():",
            "    from tests.attack.conftest import dispose",
            "from tests.support.factories import PASSWORD",
            "import tests.support.conftest_like",
        ]
    )
    assert conftest_imports(source, "tests/x.py") == [
        "tests/x.py:1: from tests.conftest import migrated",
        "tests/x.py:2: from tests.api.conftest import basic, bearer",
        "tests/x.py:3: from . import conftest",
        "tests/x.py:4: from .conftest import ADMIN",
        "tests/x.py:5: import tests.functional.conftest",
        "tests/x.py:7: from tests.attack.conftest import dispose",
    ]
