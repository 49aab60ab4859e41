"""The deploy contract: what `git push heroku` and Heroku's Button/CI rely on."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tomllib
from urllib.parse import urlsplit

import pytest

from tests.support.migrations import head_revision
from tests.support.processes import ROOT, process_env, procfile, run_command
from tests.support.repository_files import repository_files

# Hosts must never be committed; spelled in pieces so this file does not name them.
INDEX_HOSTS = {"pypi" + ".org", "pythonhosted" + ".org", "pypi" + ".python.org"}
CONFIG_SOURCES = [
    ROOT / "blasto" / "core" / "config.py",
    ROOT / "blasto" / "core" / "mail_settings.py",
    ROOT / "blasto" / "core" / "shipping_settings.py",
    ROOT / "gunicorn.conf.py",
    ROOT / "Procfile",
]
ENV_NAME = re.compile(
    r'(?:env\.get\(|_int\(env, |_float\(env, |_int\(os\.environ, |environ\.get\(|\$\{)"?([A-Z][A-Z0-9_]+)'
)


def committed_files() -> list[str]:
    """What a clone has, new files not ignored included (a Heroku CI checkout has no .git to ask)."""
    return repository_files(ROOT)


def app_json() -> dict:
    return json.loads((ROOT / "app.json").read_text())


def test_procfile_declares_web_worker_clock_and_release():
    processes = procfile()
    assert set(processes) == {"web", "worker", "clock", "release"}
    assert processes["clock"] == "celery --app blasto.worker --quiet beat --loglevel=INFO"
    assert processes["web"] == "gunicorn --config gunicorn.conf.py blasto:APP"
    assert processes["release"] == "flask --app blasto db upgrade"
    worker = processes["worker"]
    assert worker.startswith("REMAP_SIGTERM=SIGQUIT celery --app blasto.worker ")
    for flag in ("--concurrency=", "--without-gossip", "--without-mingle", "--without-heartbeat"):
        assert flag in worker


def test_dev_procfile_runs_the_same_programs():
    """Procfile's lines, but the release's migrations (and the development-only seed) lead web's."""
    dev, prod = procfile(ROOT / "Procfile.dev"), procfile()
    assert set(dev) == {"web", "worker", "clock"}, "no release line: it would stop honcho"
    assert dev["worker"] == prod["worker"] and dev["clock"] == prod["clock"]
    assert dev["web"] == f"{prod['release']} && flask --app blasto seed --if-empty && {prod['web']}"


@pytest.mark.processes
@pytest.mark.parametrize(
    "code",
    [
        "import blasto, flask; assert isinstance(blasto.APP, flask.Flask)",  # web: blasto:APP
        "import blasto.worker, celery; assert isinstance(blasto.worker.celery, celery.Celery)",  # worker: -A blasto.worker
        "import blasto, flask; assert isinstance(blasto.application, flask.Flask)",  # release: flask --app blasto
    ],
    ids=["web", "worker", "release"],
)
def test_each_procfile_target_imports(code, tmp_path):
    env = process_env(BLASTO_ENV="production", SECRET_KEY="kx7Qm2Zp9Lr4Tv8Ns1Bw6Yc3Hd5Jf0Gk")
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr


@pytest.mark.processes
def test_release_command_loads_the_migrations():
    env = process_env(BLASTO_ENV="test")
    result = run_command("flask --app blasto db heads", env)
    assert result.returncode == 0 and f"{head_revision()} (head)" in result.stdout, result.stderr


def test_runtime_matches_pipfile_and_is_python_311():
    runtime = (ROOT / "runtime.txt").read_text().strip()
    pipfile = tomllib.loads((ROOT / "Pipfile").read_text())
    assert runtime == "python-3.11"
    assert runtime == f"python-{pipfile['requires']['python_version']}"


def test_one_package_manager_and_no_index_host_in_the_lock_files():
    assert (ROOT / "Pipfile.lock").is_file()
    for other in ("requirements.txt", "poetry.lock", "uv.lock", "setup.py"):
        assert not (ROOT / other).exists(), f"{other} beside Pipfile.lock breaks Heroku's build"
    assert "source" not in tomllib.loads((ROOT / "Pipfile").read_text())
    assert json.loads((ROOT / "Pipfile.lock").read_text())["_meta"]["sources"] == []


def index_hosts() -> set[str]:
    hosts = set(INDEX_HOSTS)
    for variable in ("PIPENV_PYPI_MIRROR", "PIP_INDEX_URL", "PIP_EXTRA_INDEX_URL"):
        for url in os.environ.get(variable, "").split():
            if urlsplit(url).hostname:
                hosts.add(urlsplit(url).hostname)
    return hosts


@pytest.mark.processes
def test_no_committed_file_names_a_package_index_host():
    hosts = index_hosts()
    offenders = []
    for name in committed_files():
        path = ROOT / name
        if not path.is_file():
            continue
        text = path.read_bytes().decode("utf-8", errors="ignore").lower()
        offenders += [f"{name}: {host}" for host in hosts if host in text]
    assert offenders == []


def test_app_json_has_what_heroku_needs():
    manifest = app_json()
    for key in (
        "name",
        "description",
        "repository",
        "keywords",
        "env",
        "formation",
        "addons",
        "buildpacks",
        "environments",
    ):
        assert manifest.get(key), key
    assert manifest["env"]["SECRET_KEY"]["generator"] == "secret"
    assert manifest["env"]["BLASTO_ENV"]["value"] == "production"
    assert set(manifest["formation"]) == {"web", "worker", "clock"}
    assert manifest["formation"]["clock"]["quantity"] == 1, "exactly one beat, or the sweep runs twice"
    plans = [addon["plan"] if isinstance(addon, dict) else addon for addon in manifest["addons"]]
    assert any(plan.startswith("heroku-postgresql") for plan in plans)
    assert any(plan.startswith("heroku-redis") for plan in plans)
    assert manifest["buildpacks"] == [{"url": "heroku/python"}]
    assert manifest["scripts"]["postdeploy"] == "flask --app blasto seed --sales 20000", (
        "review apps get the sample catalogue and a year of sales to report on"
    )
    test_env = manifest["environments"]["test"]
    assert test_env["scripts"]["test"] and "pytest" in test_env["scripts"]["test"]
    test_plans = " ".join(test_env["addons"])
    assert "heroku-postgresql" in test_plans and "heroku-redis" in test_plans


def test_app_json_env_covers_every_variable_production_requires(tmp_path):
    """Production with only app.json's env plus the add-ons' URLs must start."""
    from blasto.core.config import load_config

    manifest = app_json()
    # Heroku sets what has a value or a generator; optional settings stay unset.
    env = {
        name: spec.get("value", "g3nerated-by-heroku-" + "x" * 40 + name)
        for name, spec in manifest["env"].items()
        if "value" in spec or "generator" in spec
    }
    env.update(DATABASE_URL="postgres://u:p@host:5432/db", REDIS_URL="rediss://:p@host:6380")
    assert load_config(env, instance_path=tmp_path)["BLASTO_ENV"] == "production"
    for name in ("SECRET_KEY", "BLASTO_ENV"):
        assert manifest["env"][name]["required"] is True


def test_every_configuration_variable_is_documented_in_the_readme():
    names = set()
    for path in CONFIG_SOURCES:
        names |= set(ENV_NAME.findall(path.read_text()))
    readme = (ROOT / "README.md").read_text()
    missing = sorted(name for name in names if f"`{name}`" not in readme)
    assert names and missing == []


@pytest.mark.processes
def test_release_exits_zero_on_an_empty_database_and_again_when_migrated(postgres_database):
    import psycopg

    env = process_env(
        BLASTO_ENV="production", SECRET_KEY="kx7Qm2Zp9Lr4Tv8Ns1Bw6Yc3Hd5Jf0Gk", DATABASE_URL=postgres_database
    )
    for attempt in ("empty", "migrated"):
        result = run_command(procfile()["release"], env)
        assert result.returncode == 0, f"{attempt}: {result.stderr}{result.stdout}"
        assert "Traceback" not in result.stderr + result.stdout
    with psycopg.connect(postgres_database) as conn:
        assert conn.execute("SELECT version_num FROM alembic_version").fetchall() == [(head_revision(),)]
    check = run_command("flask --app blasto db check", env)
    assert check.returncode == 0 and "No new upgrade operations detected" in check.stdout + check.stderr, (
        "models and migrations agree"
    )
