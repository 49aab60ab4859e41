"""Pipfile.lock as Heroku's build reads it: the buildpack's pipenv and no pip configuration.

The Python buildpack runs `pipenv install --deploy` with its own pipenv
(dev.PIPENV_VERSION) and no pip.conf; pipenv folds the index settings of any
pip configuration it finds into the Pipfile's hash, so a lock made on a
machine whose pip.conf lists indexes aborts the build ("Your Pipfile.lock
(...) is out of date"). These tests verify the committed lock that way,
whatever pip configuration the machine running them has.
"""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest

import dev
from tests.support.processes import ROOT, process_env
from tests.support.services import unavailable

pytestmark = pytest.mark.processes

# A pip configuration such as the one the lock was once made under.
POLLUTING_PIP_CONF = "[global]\nextra-index-url = https://mirror.example.internal/simple\n"


def buildpack_pipenv() -> str:
    """The pipenv dev.py installs (.tools/bin), else the one on PATH (a Heroku CI dyno has the buildpack's)."""
    local = ROOT / ".tools" / "bin" / "pipenv"
    pipenv = str(local) if local.exists() else shutil.which("pipenv")
    if pipenv is None:
        unavailable("pipenv is not installed (python3 dev.py test puts the buildpack's version in .tools/bin)")
    said = subprocess.run([pipenv, "--version"], capture_output=True, text=True, timeout=60).stdout
    assert said.split()[-1] == dev.PIPENV_VERSION, (
        f"{pipenv} is {said.strip()!r}, not the buildpack's pipenv {dev.PIPENV_VERSION}"
    )
    return pipenv


def verify(pipenv: str, env: dict) -> subprocess.CompletedProcess:
    return subprocess.run([pipenv, "verify"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)


@pytest.fixture
def bare_home(tmp_path):
    """A HOME with nothing in it, as on a newcomer's laptop or a Heroku build."""
    home = tmp_path / "home"
    home.mkdir()
    return home


def test_dev_py_pins_the_pipenv_of_herokus_python_buildpack():
    # heroku/heroku-buildpack-python v351 (2026-08-18), requirements/pipenv.txt.
    assert dev.PIPENV_VERSION == "2026.7.1"


def test_the_lock_verifies_with_the_buildpacks_pipenv_and_an_isolated_pip_configuration(bare_home):
    pipenv = buildpack_pipenv()
    env = dev.heroku_pip_env(process_env(HOME=str(bare_home), PIPENV_VERBOSITY="-1"))
    result = verify(pipenv, env)
    assert result.returncode == 0, result.stdout + result.stderr


def test_a_user_pip_conf_that_lists_an_index_does_not_reach_the_hash(bare_home):
    """What broke the Heroku build: the lock was hashed under a pip.conf with extra indexes."""
    pipenv = buildpack_pipenv()
    conf = bare_home / ".config" / "pip" / "pip.conf"
    conf.parent.mkdir(parents=True)
    conf.write_text(POLLUTING_PIP_CONF)
    polluted = process_env(HOME=str(bare_home), PIPENV_VERBOSITY="-1", PIP_CONFIG_FILE=None)
    assert verify(pipenv, polluted).returncode != 0, (
        "pipenv no longer folds pip.conf into the hash; this isolation may be unneeded"
    )
    assert verify(pipenv, dev.heroku_pip_env(polluted)).returncode == 0


def test_the_heroku_pip_environment_keeps_only_what_the_buildpack_passes():
    env = {
        "PIP_CONFIG_FILE": "/home/me/pip.conf",
        "PIP_INDEX_URL": "https://a.example/simple",
        "PIP_EXTRA_INDEX_URL": "https://b.example/simple",
        "PIP_FIND_LINKS": "/wheels",
        "HOME": "/home/me",
    }
    isolated = dev.heroku_pip_env(env)
    assert isolated["PIP_CONFIG_FILE"] == os.devnull  # pip then reads no configuration file at all
    assert "PIP_INDEX_URL" not in isolated  # never passed to a Heroku build
    assert isolated["PIP_EXTRA_INDEX_URL"] == "https://b.example/simple"  # the one config var the buildpack passes
    assert isolated["PIP_FIND_LINKS"] == "/wheels" and isolated["HOME"] == "/home/me"
    assert env["PIP_INDEX_URL"], "the caller's mapping is not changed"
