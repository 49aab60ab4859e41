"""`flask --app blasto check`, run as the real command: exit 0 when a deploy would work, 1 with plain words when not."""

from __future__ import annotations

import json
import re
import secrets
import shlex
import shutil
from pathlib import Path

import pytest

from tests.support.processes import production_env, run_command
from tests.support.services import unavailable

pytestmark = pytest.mark.processes

GOOD_URLS = {
    "DATABASE_URL": "postgres://u:pw@db.example.com:5432/blasto",
    "REDIS_URL": "rediss://:pw@redis.example.com:6380",
}


def check(env: dict, *args: str):
    result = run_command("flask --app blasto check " + " ".join(shlex.quote(arg) for arg in args), env)
    assert "Traceback" not in result.stdout + result.stderr, result.stdout + result.stderr
    return result


def problems(output: str) -> list[str]:
    return [line.split("PROBLEM", 1)[1].strip() for line in output.splitlines() if line.lstrip().startswith("PROBLEM")]


def needs_pipenv() -> None:
    if shutil.which("pipenv") is None:
        unavailable("pipenv is not on PATH (python3 dev.py test puts .tools/bin there)")


def test_the_repository_with_a_good_production_environment_passes():
    needs_pipenv()
    result = check(
        production_env(
            **GOOD_URLS,
            SMTP_URL="smtp://user:pw@smtp.example.com:587?starttls=true",
            MAIL_FROM="Blasto <shop@example.com>",
        )
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert problems(result.stdout) == []
    for passed in (
        "the environment loads as production",
        "Procfile web: gunicorn loads blasto:APP",
        "Procfile worker: celery loads blasto.worker",
        "Procfile release: flask loads blasto",
        "runtime.txt asks for Python 3.11 (Heroku installs 3.11.",
        "app.json's env and add-ons give production every variable it requires",
        "Pipfile.lock matches the Pipfile as Heroku's build hashes it",
    ):
        assert passed in result.stdout
    assert "note     runtime.txt is deprecated on Heroku" in result.stdout
    assert (
        result.stdout.strip().splitlines()[-1].startswith("check: all ")
        and "ready for `git push heroku`" in result.stdout
    )


def _wrong_runtime(root: Path) -> None:
    (root / "runtime.txt").write_text("python-3.12\n")


def _missing_web_module(root: Path) -> None:
    path = root / "Procfile"
    path.write_text(path.read_text().replace("blasto:APP", "blasto.storefront:APP"))


def _missing_worker_module(root: Path) -> None:
    path = root / "Procfile"
    path.write_text(
        path.read_text().replace(
            "worker: REMAP_SIGTERM=SIGQUIT celery --app blasto.worker",
            "worker: REMAP_SIGTERM=SIGQUIT celery --app blasto.workers",
        )
    )


def _no_secret_key_in_app_json(root: Path) -> None:
    manifest = json.loads((root / "app.json").read_text())
    del manifest["env"]["SECRET_KEY"]
    (root / "app.json").write_text(json.dumps(manifest, indent=2))


def _no_postgres_addon(root: Path) -> None:
    manifest = json.loads((root / "app.json").read_text())
    manifest["addons"] = [addon for addon in manifest["addons"] if "postgresql" not in json.dumps(addon)]
    (root / "app.json").write_text(json.dumps(manifest, indent=2))


def _broken_gunicorn_conf(root: Path) -> None:
    path = root / "gunicorn.conf.py"
    path.write_text(path.read_text() + "\nthreads = GUNICORN_THREADS_DEFAULT\n")


def _tampered_pipfile(root: Path) -> None:
    needs_pipenv()
    path = root / "Pipfile"
    tampered = path.read_text().replace('gunicorn = "~=27.0.1"', 'gunicorn = "~=23.0"')
    assert tampered != path.read_text(), "the Pipfile's gunicorn line changed; update this test"
    path.write_text(tampered)


@pytest.mark.parametrize(
    ("breakage", "said"),
    [
        (
            _wrong_runtime,
            "runtime.txt: asks for Python 3.12 (Heroku installs 3.12.14, reading it first), "
            "but Pipfile.lock python_version says 3.11",
        ),
        (
            _missing_web_module,
            "Procfile: the web process's target `blasto.storefront:APP` does not load in gunicorn: ModuleNotFoundError",
        ),
        (_missing_worker_module, "Procfile: the worker process's target `blasto.workers` does not load in celery"),
        (
            _no_secret_key_in_app_json,
            "app.json: its env does not give production a usable SECRET_KEY (SECRET_KEY is not set",
        ),
        (_no_postgres_addon, "app.json: its env does not give production a usable DATABASE_URL"),
        (
            _broken_gunicorn_conf,
            "gunicorn.conf.py: does not load: NameError: name 'GUNICORN_THREADS_DEFAULT' is not defined",
        ),
        (
            _tampered_pipfile,
            "Pipfile.lock: does not match the Pipfile, so `pipenv install --deploy` would abort the build",
        ),
    ],
    ids=["runtime", "web-target", "worker-target", "app-json-env", "app-json-addon", "gunicorn-conf", "pipfile"],
)
def test_a_broken_deploy_file_is_named_with_what_to_do(deploy_copy, breakage, said):
    breakage(deploy_copy)
    result = check(production_env(**GOOD_URLS), "--root", str(deploy_copy))
    assert result.returncode == 1, result.stdout + result.stderr
    found = problems(result.stdout)
    assert len(found) == 1 and found[0].startswith(said), result.stdout
    assert "what to do: " in result.stdout
    assert result.stdout.strip().splitlines()[-1] == "check: 1 problem found; fix it before `git push heroku`."


def test_the_untouched_copy_passes(deploy_copy):
    result = check(production_env(**GOOD_URLS), "--root", str(deploy_copy))
    assert result.returncode == 0 and problems(result.stdout) == [], result.stdout


def test_a_bad_environment_is_named_and_its_secrets_are_not_echoed():
    weak_key, db_password = "Weak-Key-" + secrets.token_hex(3), "DbPw" + secrets.token_hex(6)
    env = production_env(
        SECRET_KEY=weak_key,
        DATABASE_URL=f"mysql://root:{db_password}@db.example.com/shop",
        REDIS_URL=GOOD_URLS["REDIS_URL"],
        WEB_CONCURRENCY="500",
        OUTBOX_MAX_ATTEMPTS="many",
    )
    result = check(env)
    assert result.returncode == 1, result.stdout + result.stderr
    found = problems(result.stdout)
    for variable in (
        "SECRET_KEY is too short",
        "DATABASE_URL uses an unsupported scheme 'mysql'",
        "WEB_CONCURRENCY must be between 1 and 64",
        "OUTBOX_MAX_ATTEMPTS must be a whole number",
    ):
        assert any(line.startswith(variable) for line in found), (variable, result.stdout)
    assert len(found) == 4
    assert weak_key not in result.stdout + result.stderr and db_password not in result.stdout + result.stderr
    assert re.search(r"check: 4 problems found", result.stdout)


def test_only_the_check_survives_a_bad_environment():
    """Every other command still refuses to start, with its one line and exit code 3."""
    result = run_command("flask --app blasto ready", production_env(SECRET_KEY="short"))
    assert result.returncode == 3 and "blasto: cannot start: SECRET_KEY is too short" in result.stderr


def test_config_vars_from_a_file_are_checked_instead_of_the_environment(tmp_path):
    # The shape of `heroku config --shell`, quotes included.
    weak_key = "Short-" + secrets.token_hex(3)
    config_vars = tmp_path / "production.env"
    config_vars.write_text(
        f"BLASTO_ENV=production\nSECRET_KEY='{weak_key}'\nDATABASE_URL='{GOOD_URLS['DATABASE_URL']}'\nREDIS_URL={GOOD_URLS['REDIS_URL']}\n"
        "MAIL_FROM='Blasto <shop@example.com>'\nSMTP_URL='smtp://u:p@smtp.example.com:587'\n"
    )
    result = check(production_env(**GOOD_URLS), "--config-vars", str(config_vars))
    assert result.returncode == 1
    assert problems(result.stdout) == [
        f"SECRET_KEY is too short ({len(weak_key)} characters); set it to a random string of at least 32 characters, "
        'e.g. `python -c "import secrets; print(secrets.token_hex(32))"`'
    ]
    assert weak_key not in result.stdout


def test_a_malformed_config_vars_file_is_a_clear_usage_error(tmp_path):
    config_vars = tmp_path / "production.env"
    config_vars.write_text("SECRET_KEY='unterminated\n")
    result = check(production_env(**GOOD_URLS), "--config-vars", str(config_vars))
    assert result.returncode == 2 and "line 1 is not KEY=value" in result.stderr


def test_a_pip_conf_that_lists_indexes_does_not_fool_the_lock_check(tmp_path):
    """Heroku's build reads no pip configuration; neither does the check, whatever this machine has."""
    needs_pipenv()
    home = tmp_path / "home"
    (home / ".config" / "pip").mkdir(parents=True)
    (home / ".config" / "pip" / "pip.conf").write_text(
        "[global]\nextra-index-url = https://mirror.example.internal/simple\n"
    )
    result = check(production_env(**GOOD_URLS, HOME=str(home), PIP_CONFIG_FILE=None))
    assert "Pipfile.lock matches the Pipfile as Heroku's build hashes it" in result.stdout, result.stdout
    assert not [line for line in problems(result.stdout) if line.startswith("Pipfile.lock")]


def test_an_app_that_sets_pip_extra_index_url_needs_a_lock_made_with_it(tmp_path):
    """The buildpack passes PIP_EXTRA_INDEX_URL to pipenv, which folds it into the Pipfile's hash."""
    needs_pipenv()
    config_vars = tmp_path / "production.env"
    config_vars.write_text(
        f"SECRET_KEY={secrets.token_hex(32)}\nPIP_EXTRA_INDEX_URL=https://mirror.example.internal/simple\n"
        + "".join(f"{name}='{url}'\n" for name, url in GOOD_URLS.items())
    )
    result = check(production_env(**GOOD_URLS), "--config-vars", str(config_vars))
    assert result.returncode == 1
    assert problems(result.stdout) == [
        "Pipfile.lock: was hashed without the app's PIP_EXTRA_INDEX_URL; Heroku's build passes that config var to pipenv, "
        "which folds it into the Pipfile's hash, so `pipenv install --deploy` would abort the build"
    ], result.stdout
    assert "PIP_EXTRA_INDEX_URL=... scripts/lock" in result.stdout


def dyno_env(**extra) -> dict:
    """Production settings as an app's config vars hold them: WEB_CONCURRENCY left to the buildpack, rate limits on.

    WEB_CONCURRENCY_SET_BY is dropped too: on a (simulated) Heroku CI dyno the suite itself runs
    with the buildpack's, which would make every WEB_CONCURRENCY read as a one-off dyno's.
    """
    return production_env(
        **GOOD_URLS, **{"WEB_CONCURRENCY": None, "WEB_CONCURRENCY_SET_BY": None, "RATELIMIT_ENABLED": None, **extra}
    )


def budget(output: str, service: str) -> tuple[int, int]:
    """(at most, limit) from the check's ok line for a budget that fits."""
    match = re.search(rf"ok       {service}: at most (\d+) of the (\d+) connections", output)
    assert match, output
    return int(match.group(1)), int(match.group(2))


def test_app_json_formation_fits_both_plans_with_room_to_spare(deploy_copy):
    """A fifth of each plan stays free: Heroku's own tools (pg:psql, backups) and a deploy's overlap take some."""
    result = check(dyno_env(), "--root", str(deploy_copy))
    assert result.returncode == 0 and problems(result.stdout) == [], result.stdout
    heading = "Connections at most, for web=1:basic, worker=1:basic, clock=1:basic (app.json's formation):"
    assert heading in result.stdout, result.stdout
    for service, plan in (("Postgres", "heroku-postgresql:essential-0"), ("Redis", "heroku-redis:premium-0")):
        needed, limit = budget(result.stdout, service)
        assert f"{service} ({plan}, {limit} connections):" in result.stdout
        assert needed <= 0.8 * limit, (service, needed, limit)
    # The arithmetic is printed plainly, per process type, with the variables it comes from.
    for line in (
        "web      1 basic dyno x 2 gunicorn processes (WEB_CONCURRENCY on basic) x 5 DATABASE_POOL_SIZE = 10",
        "worker   1 basic dyno x 2 children (WORKER_CONCURRENCY) x 2 WORKER_DATABASE_POOL_SIZE = 4",
        "worker   1 basic dyno x (2 consumer + 2 children (WORKER_CONCURRENCY) x 2 broker) = 6",
        "clock    1 basic dyno x (2 broker + 1 RedBeat) = 3",
    ):
        assert line in result.stdout, line


OVER_BUDGET = {
    "three-standard-2x-web-dynos": (
        ["--formation", "web=3:standard-2x"],
        {},
        [
            "Postgres: the formation may open 66 connections but heroku-postgresql:essential-0 allows 20",
            "Redis: the formation may open 72 connections but heroku-redis:premium-0 allows 40",
        ],
        [
            "`heroku addons:upgrade DATABASE heroku-postgresql:standard-0` (120 connections)",
            "`heroku config:set WEB_CONCURRENCY=1` (27 of 40)",
            "`heroku addons:upgrade REDIS heroku-redis:premium-1` (80 connections)",
        ],
    ),
    "database-pool-of-10": (
        [],
        {"DATABASE_POOL_SIZE": "10"},
        ["Postgres: the formation may open 26 connections but heroku-postgresql:essential-0 allows 20"],
        ["`heroku config:set DATABASE_POOL_SIZE=7` (20 of 20)", "`heroku config:set WEB_CONCURRENCY=1` (16 of 20)"],
    ),
    "redis-mini": (
        ["--redis-plan", "mini"],
        {},
        ["Redis: the formation may open 22 connections but heroku-redis:mini allows 20"],
        [
            "`heroku config:set WORKER_CONCURRENCY=1` (20 of 20)",
            "`heroku config:set WEB_CONCURRENCY=1` (17 of 20)",
            "`heroku addons:upgrade REDIS heroku-redis:premium-0` (40 connections)",
        ],
    ),
}


@pytest.mark.parametrize(("args", "env", "said", "what_to_do"), OVER_BUDGET.values(), ids=OVER_BUDGET.keys())
def test_an_over_budget_formation_is_a_problem_that_says_what_to_set(deploy_copy, args, env, said, what_to_do):
    result = check(dyno_env(**env), "--root", str(deploy_copy), *args)
    assert result.returncode == 1, result.stdout
    assert problems(result.stdout) == said, result.stdout
    for fix in what_to_do:
        assert fix in result.stdout, (fix, result.stdout)


def test_a_one_off_dyno_s_own_web_concurrency_is_not_taken_for_the_app_s(deploy_copy):
    """A one-off dyno's WEB_CONCURRENCY is the buildpack's, for its size; the app's config var sets every web dyno's."""
    on_a_one_off_dyno = dyno_env(WEB_CONCURRENCY="9", WEB_CONCURRENCY_SET_BY="heroku/python")
    by_buildpack = check(on_a_one_off_dyno, "--root", str(deploy_copy))
    assert by_buildpack.returncode == 0, by_buildpack.stdout
    assert "x 2 gunicorn processes (WEB_CONCURRENCY on basic)" in by_buildpack.stdout
    by_app = check(dyno_env(WEB_CONCURRENCY="9"), "--root", str(deploy_copy))
    assert "x 9 gunicorn processes (WEB_CONCURRENCY)" in by_app.stdout
    assert problems(by_app.stdout)[0] == (
        "Postgres: the formation may open 51 connections but heroku-postgresql:essential-0 allows 20"
    )


def test_an_unknown_plan_or_a_malformed_formation_is_said_plainly(deploy_copy):
    unknown = check(dyno_env(), "--root", str(deploy_copy), "--postgres-plan", "hobby-dev")
    assert problems(unknown.stdout) == [
        "the Postgres plan: 'heroku-postgresql:hobby-dev' is not a plan this check knows, so the budget of 16 "
        "was not compared"
    ], unknown.stdout
    malformed = check(dyno_env(), "--root", str(deploy_copy), "--formation", "web=two")
    assert malformed.returncode == 2
    assert "'web=two' is not PROCESS=QUANTITY[:SIZE], e.g. web=2:standard-2x" in malformed.stderr
