"""The repository's files without git (a Heroku CI checkout): .gitignore read as git reads it."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.support.repository_files import BUILD_DIRECTORIES, repository_files, tree_files

GITIGNORE = """\
# a comment, then the repository's own kinds of rule
.venv/
.env
instance/
__pycache__/
*.py[co]
bench/results/
/build
docs/**/draft-*.md
logs/**
!logs/keep.txt
*.log
!important.log
\\#hash
spaces.txt   
"""  # noqa: W291 -- the trailing spaces are what git trims
NESTED_GITIGNORE = "*.tmp\n!keep.tmp\n/local.txt\n"

KEPT = [
    ".env.example",
    ".gitignore",
    ".venv-notes.txt",
    "blasto/a.py",
    "blasto/e.pyx",
    "docs/final.md",
    "important.log",
    "link-to-blasto",
    "logs/keep.txt",
    "other/a.tmp",
    "pkg/.gitignore",
    "pkg/deep/local.txt",
    "pkg/keep.tmp",
    "src/build/kept.txt",
    "sub/.heroku/kept.txt",
    "tests/bench/results/kept.txt",
    "x/important.log",
]
IGNORED = [
    ".env",
    "docs/.env",
    ".venv/bin/python",
    "sub/.venv/x",
    "instance/blasto.sqlite3",
    "blasto/__pycache__/a.cpython-311.pyc",
    "blasto/b.pyc",
    "blasto/c.pyo",
    "build/out.txt",
    "bench/results/r.json",
    "docs/a/b/draft-1.md",
    "docs/draft-2.md",
    "logs/a.txt",
    "logs/sub/keep.txt",
    "app.log",
    "#hash",
    "spaces.txt",
    "pkg/a.tmp",
    "pkg/local.txt",
]
BUILT = [
    ".heroku/python/bin/python",
    ".profile.d/python.sh",
    ".chrome-for-testing/chrome-linux64/chrome",
    ".apt/usr/bin/x",
]


@pytest.fixture
def tree(tmp_path) -> Path:
    root = tmp_path / "app"
    for name in KEPT + IGNORED:
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if name == "link-to-blasto":
            continue
        path.write_text(GITIGNORE if name == ".gitignore" else NESTED_GITIGNORE if name == "pkg/.gitignore" else name)
    (root / "link-to-blasto").symlink_to("blasto", target_is_directory=True)
    return root


def test_without_git_the_tree_is_listed_minus_ignored_files_and_the_heroku_build(tree):
    for name in BUILT:
        (tree / name).parent.mkdir(parents=True, exist_ok=True)
        (tree / name).write_text("built")
    assert repository_files(tree) == sorted(KEPT)  # no .git: the walk


@pytest.mark.processes
@pytest.mark.needs_git
def test_the_walk_lists_what_git_lists(tree, tmp_path):
    git = shutil.which("git")
    assert git, "this test compares with git; app.json's scripts.test deselects it where there is none"
    env = dict(os.environ, HOME=str(tmp_path), GIT_CONFIG_NOSYSTEM="1", GIT_CONFIG_GLOBAL=os.devnull)
    subprocess.run([git, "init", "-q"], cwd=tree, env=env, check=True)
    listed = (
        subprocess.run(
            [git, "ls-files", "--others", "--exclude-standard", "-z"],
            cwd=tree,
            env=env,
            capture_output=True,
            check=True,
        )
        .stdout.decode()
        .split("\0")
    )
    assert sorted(filter(None, listed)) == sorted(KEPT) == tree_files(tree)
    assert not BUILD_DIRECTORIES & {name.split("/")[0] for name in KEPT}
