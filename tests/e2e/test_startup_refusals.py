"""Each Procfile process refuses bad configuration with one line, not a traceback."""

import pytest

from tests.support.processes import ROOT, free_port, process_env, procfile, run_command

pytestmark = pytest.mark.processes

BAD_ENVIRONMENTS = [
    ({"SECRET_KEY": None}, "SECRET_KEY is not set"),
    ({"SECRET_KEY": "changeme"}, "SECRET_KEY is a well-known placeholder"),
    ({"DATABASE_URL": "postgres://"}, "DATABASE_URL needs a host"),
    ({"REDIS_URL": "http://example.com"}, "REDIS_URL is not a valid Redis URL"),
    ({"BLASTO_ENV": "staging"}, "BLASTO_ENV must be one of"),
    ({"SENTRY_DSN": "https://o0.ingest.sentry.io/1"}, "SENTRY_DSN must be the project's DSN"),
]


@pytest.mark.parametrize("process", ["web", "worker", "release"])
@pytest.mark.parametrize(
    "overrides, message", BAD_ENVIRONMENTS, ids=[m.split(" ")[0] + "-" + m.split(" ")[-1] for _, m in BAD_ENVIRONMENTS]
)
def test_process_refuses_bad_environment_in_one_line(process, overrides, message, tmp_path):
    good = {"BLASTO_ENV": "production", "SECRET_KEY": "kx7Qm2Zp9Lr4Tv8Ns1Bw6Yc3Hd5Jf0Gk", "PORT": str(free_port())}
    env = process_env(**{**good, **overrides})
    result = run_command(procfile()[process], env, cwd=ROOT, timeout=60)
    assert result.returncode != 0
    lines = [line for line in result.stderr.splitlines() if line.startswith("blasto: cannot start:")]
    assert len(lines) == 1, result.stderr[-3000:]
    assert message in lines[0]
    assert "Traceback" not in result.stderr + result.stdout


@pytest.mark.parametrize("variable, value", [("PORT", "http"), ("GUNICORN_THREADS", "lots"), ("GUNICORN_THREADS", "0")])
def test_gunicorn_settings_refuse_malformed_values(variable, value):
    env = process_env(**{variable: value})
    result = run_command(procfile()["web"], env, cwd=ROOT, timeout=60)
    assert result.returncode != 0
    assert f"blasto: cannot start: {variable} must be" in result.stderr
    assert "Traceback" not in result.stderr
