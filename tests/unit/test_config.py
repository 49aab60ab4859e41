"""Environment parsing: Heroku's URLs, the embedded defaults, production refusals."""

import ssl
from pathlib import Path

import pytest

from blasto.core import broker
from blasto.core.config import load_config
from blasto.core.env import ConfigError

GOOD_KEY = "q3V8n0cXw1Lk5T7pR2mZ9bH4sJ6dF0gY"


def config(tmp_path, **env):
    """Production (the default) with a good key unless the test says otherwise."""
    env.setdefault("SECRET_KEY", GOOD_KEY)
    return load_config(env, instance_path=tmp_path)


def refusal(tmp_path, **env) -> ConfigError:
    with pytest.raises(ConfigError) as caught:
        config(tmp_path, **env)
    return caught.value


def test_heroku_postgres_scheme_is_rewritten_for_psycopg3(tmp_path):
    cfg = config(tmp_path, DATABASE_URL="postgres://u:p%40ss@db.example.com:5432/shop")
    assert cfg["SQLALCHEMY_DATABASE_URI"] == "postgresql+psycopg://u:p%40ss@db.example.com:5432/shop"


def test_postgresql_scheme_gets_the_psycopg3_driver(tmp_path):
    cfg = config(tmp_path, DATABASE_URL="postgresql://u@localhost/shop")
    assert cfg["SQLALCHEMY_DATABASE_URI"].startswith("postgresql+psycopg://")
    assert cfg["SQLALCHEMY_ENGINE_OPTIONS"]["pool_size"] == 5
    assert cfg["SQLALCHEMY_ENGINE_OPTIONS"]["max_overflow"] == 0


def test_pool_size_is_capped_by_environment(tmp_path):
    cfg = config(tmp_path, DATABASE_URL="postgres://u@h/d", DATABASE_POOL_SIZE="3")
    assert cfg["SQLALCHEMY_ENGINE_OPTIONS"]["pool_size"] == 3


def test_without_database_url_a_sqlite_file_under_instance_is_used(tmp_path):
    cfg = config(tmp_path)
    assert cfg["SQLALCHEMY_DATABASE_URI"] == f"sqlite:///{(tmp_path / 'blasto.sqlite3').resolve()}"


@pytest.mark.parametrize(
    "value",
    [
        "not a url",
        "postgres://",
        "postgres://host-only",
        "mysql://u:p@h/d",
        "http://example.com/db",
        "sqlite+pysqlcipher:///x",
    ],
)
def test_malformed_or_unsupported_database_url_is_refused_by_name(tmp_path, value):
    error = refusal(tmp_path, DATABASE_URL=value)
    assert error.variable == "DATABASE_URL"
    assert str(error).startswith("DATABASE_URL ")


def test_plain_redis_url_is_the_broker_without_tls_and_no_result_backend(tmp_path):
    celery = config(tmp_path, REDIS_URL="redis://127.0.0.1:6379/0")["CELERY"]
    assert celery["broker_url"] == "redis://127.0.0.1:6379/0"
    assert "result_backend" not in celery and celery["task_ignore_result"] is True
    assert "broker_use_ssl" not in celery
    assert celery["broker_transport_options"]["visibility_timeout"] > celery["task_time_limit"]


def test_heroku_tls_redis_accepts_its_self_signed_certificate_for_the_broker_and_the_clock(tmp_path):
    celery = config(tmp_path, REDIS_URL="rediss://:secret@ec2-1-2-3-4.compute-1.amazonaws.com:6380")["CELERY"]
    assert celery["broker_use_ssl"] == {"ssl_cert_reqs": ssl.CERT_NONE}
    assert celery["redbeat_redis_use_ssl"] == {"ssl_cert_reqs": ssl.CERT_NONE}


@pytest.mark.parametrize("value", ["http://localhost:6379", "redis://", "redis://host:port/0", "localhost:6379"])
def test_malformed_redis_url_is_refused_by_name(tmp_path, value):
    assert refusal(tmp_path, REDIS_URL=value).variable == "REDIS_URL"


def test_without_redis_url_celery_uses_a_serverless_broker_polled_fast(tmp_path):
    celery = config(tmp_path)["CELERY"]
    assert celery["broker_transport"] == broker.TRANSPORT
    assert celery["broker_url"] == f"sqlite:///{(tmp_path / 'celery-broker.sqlite3').resolve()}"
    assert "result_backend" not in celery
    assert broker.EmbeddedTransport.polling_interval <= 0.1


def test_celery_settings_are_safe_for_heroku(tmp_path):
    celery = config(tmp_path, REDIS_URL="redis://h:6379/0")["CELERY"]
    assert celery["task_acks_late"] and celery["task_reject_on_worker_lost"]
    assert celery["worker_prefetch_multiplier"] == 1
    assert 0 < celery["worker_soft_shutdown_timeout"] < 30
    assert celery["broker_connection_retry_on_startup"] is True
    assert celery["broker_pool_limit"] <= 10


def test_production_is_the_default_and_refuses_a_missing_secret_key(tmp_path):
    error = refusal(tmp_path, SECRET_KEY="")
    assert error.variable == "SECRET_KEY"
    assert "is not set" in str(error) and "32 characters" in str(error)


@pytest.mark.parametrize(
    "key, words",
    [
        ("short-key", "too short"),
        ("changeme", "placeholder"),
        ("a" * 40, "distinct"),
        ("abababababababababababababababab12", "distinct"),
    ],
)
def test_production_refuses_a_weak_secret_key(tmp_path, key, words):
    error = refusal(tmp_path, SECRET_KEY=key)
    assert error.variable == "SECRET_KEY" and words in str(error)


def test_production_settings_are_secure(tmp_path):
    cfg = config(tmp_path, SECRET_KEY=GOOD_KEY)
    assert cfg["BLASTO_ENV"] == "production"
    assert cfg["SESSION_COOKIE_SECURE"] and cfg["SESSION_COOKIE_HTTPONLY"]
    assert cfg["PREFERRED_URL_SCHEME"] == "https"


@pytest.mark.parametrize("missing", ["DATABASE_URL", "REDIS_URL"])
def test_on_a_heroku_dyno_production_refuses_the_embedded_defaults(tmp_path, missing):
    env = {"DYNO": "web.1", "DATABASE_URL": "postgres://u@h/d", "REDIS_URL": "rediss://h:6380"}
    del env[missing]
    error = refusal(tmp_path, **env)
    assert error.variable == missing and "add-on" in str(error)


def test_off_heroku_production_may_use_the_embedded_defaults(tmp_path):
    assert config(tmp_path)["SQLALCHEMY_DATABASE_URI"].startswith("sqlite:///")


def test_development_runs_without_a_secret_key(tmp_path):
    cfg = config(tmp_path, BLASTO_ENV="development", SECRET_KEY="")
    assert cfg["SECRET_KEY"] and not cfg["SESSION_COOKIE_SECURE"]


@pytest.mark.parametrize(
    "env, variable",
    [
        ({"BLASTO_ENV": "prod"}, "BLASTO_ENV"),
        ({"BLASTO_ENV": "test", "LOG_LEVEL": "chatty"}, "LOG_LEVEL"),
        ({"BLASTO_ENV": "test", "DATABASE_POOL_SIZE": "many"}, "DATABASE_POOL_SIZE"),
        ({"BLASTO_ENV": "test", "DATABASE_POOL_SIZE": "0"}, "DATABASE_POOL_SIZE"),
        ({"BLASTO_ENV": "test", "READY_TIMEOUT_SECONDS": "soon"}, "READY_TIMEOUT_SECONDS"),
        ({"BLASTO_ENV": "test", "CELERY_BROKER_POOL_LIMIT": "-1"}, "CELERY_BROKER_POOL_LIMIT"),
    ],
)
def test_malformed_values_are_refused_by_name(tmp_path, env, variable):
    assert refusal(tmp_path, **env).variable == variable


def test_instance_dir_is_created_for_the_embedded_broker(tmp_path):
    target = tmp_path / "deep" / "instance"
    load_config({"BLASTO_ENV": "test"}, instance_path=target)
    assert Path(target).is_dir()


@pytest.mark.parametrize(
    ("value", "seconds"),
    [("", 3 * 24 * 3600), ("3d", 3 * 24 * 3600), ("36h", 36 * 3600), ("90m", 5400), ("45s", 45), (" 2 D ", 172800)],
)
def test_payment_timeout_is_a_whole_number_and_a_unit(tmp_path, value, seconds):
    assert config(tmp_path, PAYMENT_TIMEOUT=value)["PAYMENT_TIMEOUT_SECONDS"] == seconds


@pytest.mark.parametrize("value", ["3", "3 days", "1.5h", "-1d", "0s", "91d", "3w", "d"])
def test_a_malformed_or_out_of_range_payment_timeout_is_refused_by_name(tmp_path, value):
    error = refusal(tmp_path, PAYMENT_TIMEOUT=value)
    assert error.variable == "PAYMENT_TIMEOUT"
    assert "like 3d or 36h" in str(error) or "from 1s to 90d" in str(error)


def test_payment_instructions_default_to_a_bank_transfer_naming_the_order_total_and_deadline(tmp_path):
    text = config(tmp_path)["PAYMENT_INSTRUCTIONS"]
    assert "bank transfer" in text and "{order}" in text and "{total}" in text and "{deadline}" in text
    mine = "Pay {total} to IBAN DE00 1234, reference {order}."
    assert config(tmp_path, PAYMENT_INSTRUCTIONS=mine)["PAYMENT_INSTRUCTIONS"] == mine


@pytest.mark.parametrize(
    ("value", "words"),
    [
        ("Pay {amount} now", "may name only {order}, {total} and {deadline}"),
        ("Pay {total:>10}", "may name only"),
        ("Pay {total!r}", "may name only"),
        ("Pay {} now", "may name only"),
        ("Pay {total now", "stray brace"),
        ("Pay } now", "stray brace"),
        ("Pay\x00now", "control characters"),
        ("x" * 2001, "at most 2000 characters"),
    ],
)
def test_bad_payment_instructions_are_refused_by_name(tmp_path, value, words):
    error = refusal(tmp_path, PAYMENT_INSTRUCTIONS=value)
    assert error.variable == "PAYMENT_INSTRUCTIONS" and words in str(error)
