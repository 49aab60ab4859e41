"""The Python version as Heroku's buildpack picks it, and every file that names it, on a copy of the deploy files.

The buildpack reads runtime.txt, then .python-version, then Pipfile.lock's
python_full_version, then its python_version; pipenv then holds the build to
the Pipfile's [requires]. Each pair that can disagree is broken here once.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from blasto.deploy_check import python_version
from blasto.deploy_check.report import Report


def versions(root: Path) -> Report:
    report = Report()
    python_version.check(report, root)
    return report


def said(report: Report) -> list[tuple[str, str]]:
    return [(f"{p.where}: {p.what}", p.fix) for p in report.problems]


def set_lock_requires(root: Path, **requires: str) -> None:
    path = root / "Pipfile.lock"
    lock = json.loads(path.read_text())
    lock["_meta"]["requires"] = requires
    path.write_text(json.dumps(lock, indent=4))


def set_pipfile_requires(root: Path, line: str) -> None:
    path = root / "Pipfile"
    text = path.read_text()
    assert 'python_version = "3.11"' in text, "the Pipfile's [requires] changed; update this test"
    path.write_text(text.replace('python_version = "3.11"', line))


def test_the_repository_s_files_agree_and_runtime_txt_s_deprecation_is_a_note(deploy_copy):
    report = versions(deploy_copy)
    assert report.problems == []
    assert report.passed == [
        "runtime.txt asks for Python 3.11 (Heroku installs 3.11.16); "
        "Pipfile.lock python_version, Pipfile [requires] python_version agree"
    ]
    assert any(note.startswith("runtime.txt is deprecated on Heroku: every build prints") for note in report.notes)


def _runtime_312(root: Path) -> None:
    (root / "runtime.txt").write_text("python-3.12\n")


def _python_version_file_312(root: Path) -> None:
    (root / ".python-version").write_text("# the team's Python\n3.12\n")


def _lock_full_version(root: Path) -> None:
    set_lock_requires(root, python_version="3.11", python_full_version="3.11.9")


def _lock_version_312(root: Path) -> None:
    set_lock_requires(root, python_version="3.12")


def _pipfile_312(root: Path) -> None:
    set_pipfile_requires(root, 'python_version = "3.12"')


def _pipfile_full_version(root: Path) -> None:
    set_pipfile_requires(root, 'python_version = "3.11"\npython_full_version = "3.11.9"')


def _no_runtime_python_version_file_312(root: Path) -> None:
    (root / "runtime.txt").unlink()
    (root / ".python-version").write_text("3.12\n")


def _no_runtime_lock_312(root: Path) -> None:
    (root / "runtime.txt").unlink()
    set_lock_requires(root, python_version="3.12")


RUNTIME_311 = "runtime.txt: asks for Python 3.11 (Heroku installs 3.11.16, reading it first), but "
RUNTIME_312 = "runtime.txt: asks for Python 3.12 (Heroku installs 3.12.14, reading it first), but "
FILE_312 = ".python-version: asks for Python 3.12 (Heroku installs 3.12.14, reading it first), but "
LOCK_312 = "Pipfile.lock python_version: asks for Python 3.12 (Heroku installs 3.12.14, reading it first), but "
REQUIRES = "in the Pipfile's [requires]"
DISAGREEMENTS = {
    "runtime-vs-lock-and-pipfile": (
        _runtime_312,
        RUNTIME_312 + "Pipfile.lock python_version says 3.11, Pipfile [requires] python_version says 3.11",
        f'`python_version = "3.12"` {REQUIRES}, then relock with scripts/lock',
    ),
    "runtime-vs-python-version-file": (
        _python_version_file_312,
        RUNTIME_311 + ".python-version says 3.12",
        "write `3.11` in .python-version",
    ),
    "runtime-vs-lock-full-version": (
        _lock_full_version,
        RUNTIME_311 + "Pipfile.lock python_full_version says 3.11.9",
        "relock with scripts/lock",
    ),
    "runtime-vs-lock-version": (
        _lock_version_312,
        RUNTIME_311 + "Pipfile.lock python_version says 3.12",
        "relock with scripts/lock",
    ),
    "runtime-vs-pipfile": (
        _pipfile_312,
        RUNTIME_311 + "Pipfile [requires] python_version says 3.12",
        f'`python_version = "3.11"` {REQUIRES}, then relock with scripts/lock',
    ),
    "runtime-vs-pipfile-full-version": (
        _pipfile_full_version,
        RUNTIME_311 + "Pipfile [requires] python_full_version says 3.11.9",
        f'`python_full_version = "3.11.16"` {REQUIRES} (or no such line)',
    ),
    "python-version-file-vs-lock-and-pipfile": (
        _no_runtime_python_version_file_312,
        FILE_312 + "Pipfile.lock python_version says 3.11, Pipfile [requires] python_version says 3.11",
        f'`python_version = "3.12"` {REQUIRES}',
    ),
    "lock-vs-pipfile": (
        _no_runtime_lock_312,
        LOCK_312 + "Pipfile [requires] python_version says 3.11",
        f'`python_version = "3.12"` {REQUIRES}',
    ),
}


@pytest.mark.parametrize(("breakage", "problem", "fix"), DISAGREEMENTS.values(), ids=DISAGREEMENTS.keys())
def test_two_files_that_name_different_pythons_are_one_problem_with_what_to_do(deploy_copy, breakage, problem, fix):
    breakage(deploy_copy)
    report = versions(deploy_copy)
    assert [what for what, _ in said(report)] == [problem]
    assert fix in said(report)[0][1] and said(report)[0][1].startswith("make them all name one Python: ")
    assert report.passed == []


def test_without_runtime_txt_there_is_no_deprecation_to_note(deploy_copy):
    (deploy_copy / "runtime.txt").unlink()
    (deploy_copy / ".python-version").write_text("3.11\n")
    report = versions(deploy_copy)
    assert report.problems == [] and not any("deprecated" in note for note in report.notes)
    assert report.passed[0].startswith(".python-version asks for Python 3.11 (Heroku installs 3.11.16)")


@pytest.mark.parametrize(
    ("runtime", "problem"),
    [
        (
            "python-3.11.99\n",
            "runtime.txt: asks for Python 3.11.99, a release the buildpack does not have (newest: 3.11.16)",
        ),
        (
            "python-3.9\n",
            "runtime.txt: asks for Python 3.9, which Heroku's Python buildpack does not offer (the build stops)",
        ),
        ("python 3.11\n", "runtime.txt: says 'python 3.11', which Heroku refuses (the build stops)"),
        (
            "python-3.11\npython-3.12\n",
            "runtime.txt: says 'python-3.11\\npython-3.12', which Heroku refuses (the build stops)",
        ),
    ],
    ids=["unreleased-patch", "unsupported", "malformed", "two-lines"],
)
def test_a_runtime_txt_the_buildpack_refuses_is_a_problem(deploy_copy, runtime, problem):
    (deploy_copy / "runtime.txt").write_text(runtime)
    assert [what for what, _ in said(versions(deploy_copy))] == [problem]


def test_an_old_patch_pin_is_a_note_and_still_agrees_with_the_minor_version(deploy_copy):
    (deploy_copy / "runtime.txt").write_text("# pinned\npython-3.11.9\n")
    report = versions(deploy_copy)
    assert report.problems == []
    assert (
        "runtime.txt pins Python 3.11.9; 3.11.16 is out and each build warns: name 3.11 alone to get it" in report.notes
    )


def test_a_misspelt_python_version_file_stops_the_build(deploy_copy):
    (deploy_copy / "runtime.txt").unlink()
    (deploy_copy / ".python-version.txt").write_text("3.11\n")
    assert [what for what, _ in said(versions(deploy_copy))] == [
        ".python-version.txt: is a misspelling of .python-version, which Heroku refuses (the build stops)"
    ]
