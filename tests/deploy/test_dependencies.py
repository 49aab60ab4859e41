"""Every package the code imports is declared in the Pipfile, not left to arrive as someone's dependency.

A package that only comes in transitively can vanish or jump a major version
when the package that pulled it in changes; declaring it makes the lock say
why it is there.
"""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from importlib.metadata import packages_distributions
from pathlib import Path

import pytest

from tests.support.processes import ROOT

FIRST_PARTY = {"blasto", "tests", "bench", "dev"}
# Where the Pipfile must pin `~=X.Y.Z` or `~=X.Y`: Blasto relies on these packages' internals.
COMPATIBLE_RELEASE = ("gunicorn", "celery", "kombu", "flask-limiter", "flask-smorest", "redis")


def canonicalize_name(name: str) -> str:
    """PEP 503's normal form, as pipenv compares names."""
    return re.sub(r"[-_.]+", "-", name).lower()


def pipfile() -> dict:
    return tomllib.loads((ROOT / "Pipfile").read_text())


def declared(section: str) -> set[str]:
    return {canonicalize_name(name) for name in pipfile().get(section, {})}


def imported_distributions(*paths: Path) -> dict[str, set[str]]:
    """{distribution: {files importing it}} for the third-party top-level imports under `paths`."""
    by_module = packages_distributions()
    found: dict[str, set[str]] = {}
    files = [file for path in paths for file in ([path] if path.is_file() else sorted(path.rglob("*.py")))]
    for file in files:
        for node in ast.walk(ast.parse(file.read_text(), str(file))):
            if isinstance(node, ast.Import):
                modules = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                modules = [node.module]
            else:
                continue
            for module in modules:
                top = module.split(".")[0]
                if top in sys.stdlib_module_names or top in FIRST_PARTY:
                    continue
                for distribution in by_module.get(top, [top]):
                    found.setdefault(canonicalize_name(distribution), set()).add(str(file.relative_to(ROOT)))
    return found


def test_everything_the_app_imports_is_in_packages():
    """What the dynos run: the package, the migrations and gunicorn's config."""
    used = imported_distributions(ROOT / "blasto", ROOT / "migrations", ROOT / "gunicorn.conf.py")
    missing = {name: sorted(files)[:3] for name, files in used.items() if name not in declared("packages")}
    assert "flask" in used and missing == {}


def test_everything_the_tests_and_benchmarks_import_is_declared():
    used = imported_distributions(ROOT / "tests", ROOT / "bench")
    known = declared("packages") | declared("dev-packages")
    missing = {name: sorted(files)[:3] for name, files in used.items() if name not in known}
    assert "pytest" in used and missing == {}


@pytest.mark.parametrize("name", COMPATIBLE_RELEASE)
def test_packages_whose_internals_are_used_take_compatible_releases_only(name):
    spec = {canonicalize_name(key): value for key, value in pipfile()["packages"].items()}[name]
    version = spec if isinstance(spec, str) else spec["version"]
    assert version.startswith("~="), f"{name} = {version!r}: a new major release could change what Blasto relies on"
