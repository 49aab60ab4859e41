"""Error tracking's settings, its scrubbing of events, and that the SDK is loaded only with SENTRY_DSN."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest

from blasto.core.config import load_config
from blasto.core.env import ConfigError
from blasto.core.error_tracking import without_personal_data
from tests.support.processes import ROOT, free_port, process_env

GOOD_KEY = "q3V8n0cXw1Lk5T7pR2mZ9bH4sJ6dF0gY"
DSN = "https://0123456789abcdef0123456789abcdef@o12.ingest.sentry.io/4501"


def tracking(tmp_path, **env) -> dict | None:
    return load_config({"SECRET_KEY": GOOD_KEY, **env}, instance_path=tmp_path)["ERROR_TRACKING"]


@pytest.mark.parametrize("value", [None, "", "   "])
def test_without_sentry_dsn_error_tracking_is_off(tmp_path, value):
    env = {} if value is None else {"SENTRY_DSN": value}
    assert tracking(tmp_path, **env) is None


def test_the_dsn_is_kept_and_events_are_labelled_with_the_environment_and_the_dyno(tmp_path):
    settings = tracking(tmp_path, SENTRY_DSN=f" {DSN} ", DYNO="worker.2", BLASTO_ENV="development")
    assert settings == {"dsn": DSN, "environment": "development", "release": None, "server_name": "worker.2"}
    self_hosted = "http://key:legacy-secret@sentry.internal:9000/prefix/7"
    assert tracking(tmp_path, SENTRY_DSN=self_hosted)["dsn"] == self_hosted


@pytest.mark.parametrize(
    "metadata, release",
    [
        ({"HEROKU_BUILD_COMMIT": "b" * 40, "HEROKU_SLUG_COMMIT": "s" * 40, "HEROKU_RELEASE_VERSION": "v42"}, "b" * 40),
        (
            {"HEROKU_SLUG_COMMIT": "2c3a0b24069af49b3de35b8e8c26765c1dba9ff0", "HEROKU_RELEASE_VERSION": "v42"},
            "2c3a0b24069af49b3de35b8e8c26765c1dba9ff0",
        ),
        ({"HEROKU_RELEASE_VERSION": "v42", "HEROKU_APP_NAME": "my-blasto"}, "my-blasto@v42"),
        ({"HEROKU_RELEASE_VERSION": "v42"}, "v42"),
        ({"HEROKU_APP_NAME": "my-blasto"}, None),
    ],
)
def test_the_release_is_named_from_herokus_dyno_metadata(tmp_path, metadata, release):
    assert tracking(tmp_path, SENTRY_DSN=DSN, **metadata)["release"] == release


@pytest.mark.parametrize(
    "value",
    [
        "not a dsn",
        "0123456789abcdef@o12.ingest.sentry.io/4501",  # no scheme
        "ftp://0123456789abcdef@o12.ingest.sentry.io/4501",
        "https://o12.ingest.sentry.io/4501",  # no key
        "https://0123456789abcdef@o12.ingest.sentry.io/",  # no project
        "https://0123456789abcdef@o12.ingest.sentry.io/4501/",
        "https://0123456789abcdef@o12.ingest.sentry.io/project",
        "https://0123456789abcdef@o12.ingest.sentry.io:port/4501",
        "https://0123456789abcdef@/4501",
    ],
)
def test_a_malformed_dsn_is_refused_by_name_without_echoing_its_key(tmp_path, value):
    with pytest.raises(ConfigError) as caught:
        tracking(tmp_path, SENTRY_DSN=value)
    assert caught.value.variable == "SENTRY_DSN"
    assert str(caught.value).startswith("SENTRY_DSN must be ")
    assert "0123456789abcdef" not in str(caught.value)


def test_events_lose_what_could_name_a_shopper_and_gain_the_request_id():
    from blasto.core.logs import request_id_var

    event = {
        "release": "a@v1",
        "request": {
            "url": "https://blasto.example/api/v1/users/me?access_token=tok-123",
            "query_string": "access_token=tok-123",
            "cookies": {"session": "cookie-123"},
            "data": {"email": "ada@example.com"},
            "env": {"REMOTE_ADDR": "203.0.113.9", "SERVER_PORT": "443"},
            "headers": {
                "Authorization": "Bearer tok-123",
                "Cookie": "session=cookie-123",
                "Forwarded": "for=203.0.113.9",
                "Referer": "https://blasto.example/reset?token=tok-123",
                "X-Request-Id": "req-1",
                "User-Agent": "UA",
            },
        },
        "user": {"ip_address": "203.0.113.9"},
        "exception": {
            "values": [
                {"type": "ValueError", "value": "no account for ada@example.com at smtp://mailer:pw-123@mail.example"},
            ]
        },
        "logentry": {"message": "refused %s", "params": ["ada@example.com"], "formatted": "refused ada@example.com"},
        "breadcrumbs": {"values": [{"message": "sent to bob@example.com", "data": {"to": "bob@example.com"}}]},
        "extra": {"sys.argv": ["flask", "create-admin", "ada@example.com"]},
    }
    token = request_id_var.set("req-1")
    try:
        sent = without_personal_data(event, {})
    finally:
        request_id_var.reset(token)

    text = json.dumps(sent)
    for personal in ("tok-123", "cookie-123", "203.0.113.9", "ada@example.com", "bob@example.com", "pw-123"):
        assert personal not in text
    assert sent["request"]["url"] == "https://blasto.example/api/v1/users/me"
    assert sent["request"]["headers"] == {"X-Request-Id": "req-1", "User-Agent": "UA"}
    assert sent["request"]["env"] == {"SERVER_PORT": "443"}
    assert sent["exception"]["values"][0]["value"] == "no account for [email] at smtp://mailer:***@mail.example"
    assert sent["tags"] == {"request_id": "req-1"}
    assert sent["release"] == "a@v1", "our own labels are left as they are"


REPORT_ON_THE_SDK = textwrap.dedent("""
    import json, sys
    import blasto, blasto.worker
    blasto.APP
    report = {"loaded": "sentry_sdk" in sys.modules}
    if report["loaded"]:
        import sentry_sdk
        from sentry_sdk.integrations import argv, celery, flask, logging, redis, sqlalchemy
        client = sentry_sdk.get_client()
        kinds = [argv.ArgvIntegration, celery.CeleryIntegration, flask.FlaskIntegration, logging.LoggingIntegration,
                 redis.RedisIntegration, sqlalchemy.SqlalchemyIntegration]
        names = ("send_default_pii", "include_local_variables", "max_request_body_size", "release", "environment")
        report.update(
            active=client.is_active(),
            integrations=sorted(kind.identifier for kind in kinds if client.get_integration(kind) is not None),
            options={name: client.options[name] for name in names},
        )
    print(json.dumps(report))
""")


def _app_in_a_process(**env: str | None) -> dict:
    """Build `blasto.APP` and the worker's Celery app as the Procfile's programs do; report on the SDK."""
    settings = {"BLASTO_ENV": "production", "SECRET_KEY": GOOD_KEY, "DYNO": None, **env}
    result = subprocess.run(
        [sys.executable, "-c", REPORT_ON_THE_SDK],
        cwd=ROOT,
        env=process_env(**settings),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.mark.processes
def test_without_sentry_dsn_the_sdk_is_never_imported():
    assert _app_in_a_process(SENTRY_DSN=None) == {"loaded": False}
    assert _app_in_a_process(SENTRY_DSN="") == {"loaded": False}


@pytest.mark.processes
def test_with_sentry_dsn_the_sdk_runs_with_flask_and_celery_and_without_personal_data():
    nowhere = f"http://key@127.0.0.1:{free_port()}/1"  # nothing is sent: no error happens
    report = _app_in_a_process(
        SENTRY_DSN=nowhere,
        HEROKU_RELEASE_VERSION="v7",
        HEROKU_SLUG_COMMIT=None,
        HEROKU_BUILD_COMMIT=None,
        HEROKU_APP_NAME=None,
    )
    assert report["active"] is True
    assert report["integrations"] == ["celery", "flask", "logging"], "not argv, redis nor sqlalchemy"
    assert report["options"] == {
        "send_default_pii": False,
        "include_local_variables": False,
        "max_request_body_size": "never",
        "release": "v7",
        "environment": "production",
    }
