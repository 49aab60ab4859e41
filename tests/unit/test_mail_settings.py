"""Mail settings from the environment: SMTP_URL, MAIL_FROM, the mail mode, and the outbox numbers.

Every refusal is a ConfigError that names its variable and never echoes the
SMTP password, whatever else the URL got wrong.
"""

from __future__ import annotations

from urllib.parse import quote

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from blasto.core.config import load_config
from blasto.core.env import ConfigError
from blasto.core.mail_settings import (
    DEFAULT_TIMEOUT_SECONDS,
    DEV_MAIL_FROM,
    HOLD,
    LOG,
    SMTP,
    SmtpSettings,
    mail_from,
    mail_settings,
    smtp_settings,
)

GOOD_KEY = "q3V8n0cXw1Lk5T7pR2mZ9bH4sJ6dF0gY"
PASSWORD = "Sup3r-S3cret-Pa55"
SENDER = "Blasto <shop@blasto.example>"


def config(tmp_path, **env):
    """load_config on exactly this environment (production unless BLASTO_ENV says otherwise)."""
    env.setdefault("SECRET_KEY", GOOD_KEY)
    return load_config(env, instance_path=tmp_path)


def smtp_refusal(value: str) -> ConfigError:
    with pytest.raises(ConfigError) as caught:
        smtp_settings(value)
    error = caught.value
    assert error.variable == "SMTP_URL"
    assert str(error).startswith("SMTP_URL ")
    return error


# -- SMTP_URL ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "port", "implicit_tls", "starttls"),
    [
        ("smtp://mail.example.com", 25, False, False),
        ("smtps://mail.example.com", 465, True, False),
        ("smtp://mail.example.com?starttls=true", 587, False, True),
        ("SMTP://mail.example.com?STARTTLS=yes", 587, False, True),
        ("smtp://mail.example.com?starttls=false", 25, False, False),
        ("smtp://mail.example.com:2525?starttls=on", 2525, False, True),
        ("smtps://mail.example.com:10465", 10465, True, False),
    ],
)
def test_smtp_url_schemes_and_default_ports(url, port, implicit_tls, starttls):
    smtp = smtp_settings(url)
    assert (smtp.host, smtp.port, smtp.implicit_tls, smtp.starttls) == (
        "mail.example.com",
        port,
        implicit_tls,
        starttls,
    )
    assert smtp.username is None and smtp.password is None
    assert smtp.timeout == DEFAULT_TIMEOUT_SECONDS


@pytest.mark.parametrize("value", [None, "", "   "])
def test_no_smtp_url_means_no_server(value):
    assert smtp_settings(value) is None


def test_percent_encoded_credentials_are_decoded():
    smtp = smtp_settings("smtp://apikey%40blasto.example:p%40ss%2Fw%3Ard%20x@smtp.example.com:587?starttls=true")
    assert smtp.username == "apikey@blasto.example"
    assert smtp.password == "p@ss/w:rd x"
    assert (smtp.host, smtp.port, smtp.starttls) == ("smtp.example.com", 587, True)


def test_timeout_option_is_read_in_seconds():
    assert smtp_settings("smtp://h.example.com?timeout=2.5").timeout == 2.5
    assert smtp_settings("smtp://h.example.com?starttls=true&timeout=30").timeout == 30.0


def test_repr_and_description_never_show_the_password():
    smtp = smtp_settings(f"smtps://user:{PASSWORD}@smtp.example.com")
    assert smtp.password == PASSWORD
    assert PASSWORD not in repr(smtp) and PASSWORD not in str(smtp)
    assert "user" in repr(smtp)  # the rest is still there, for debugging
    assert smtp.describe() == "smtps://smtp.example.com:465"
    assert PASSWORD not in repr(
        mail_settings({"SMTP_URL": f"smtp://u:{PASSWORD}@h.example.com", "MAIL_FROM": SENDER}, production=True)
    )
    assert PASSWORD not in repr(SmtpSettings(host="h", port=25, username="u", password=PASSWORD))


@pytest.mark.parametrize(
    ("url", "says"),
    [
        (f"http://user:{PASSWORD}@smtp.example.com", "must start with smtp:// or smtps://"),
        (f"smtp+tls://user:{PASSWORD}@smtp.example.com", "must start with smtp:// or smtps://"),
        ("smtp.example.com:25", "must start with smtp:// or smtps://"),
        (f"smtp://user:{PASSWORD}@", "needs a host"),
        (f"smtp://user:{PASSWORD}@:25", "needs a host"),
        (f"smtp://user:{PASSWORD}@smtp.example.com:99999", "port"),
        (f"smtp://user:{PASSWORD}@smtp.example.com:abc", "port"),
        (f"smtp://user:{PASSWORD}@smtp.example.com:-25", "port"),
        (f"smtps://user:{PASSWORD}@smtp.example.com?starttls=true", "STARTTLS on smtps://"),
        (f"smtp://user:{PASSWORD}@smtp.example.com?starttls=maybe", "starttls must be true or false"),
        (f"smtp://user:{PASSWORD}@smtp.example.com?timeout=soon", "timeout must be a number"),
        (f"smtp://user:{PASSWORD}@smtp.example.com?timeout=0", "between 0.5 and 120"),
        (f"smtp://user:{PASSWORD}@smtp.example.com?timeout=500", "between 0.5 and 120"),
        (f"smtp://user:{PASSWORD}@smtp.example.com?timeout=nan", "between 0.5 and 120"),
        (f"smtp://user:{PASSWORD}@smtp.example.com?tls=1", "unknown options: tls"),
        (f"smtp://user:{PASSWORD}@smtp.example.com?starttls=true&auth=plain&pool=3", "unknown options: auth, pool"),
        (f"smtp://user:{PASSWORD}@smtp.example.com?starttls", "malformed query"),
        (f"smtp://user:{PASSWORD}@smtp.example.com?starttls=true&&", "malformed query"),
        (f"smtp://user:{PASSWORD}@smtp.example.com?=true", "an option without a name"),
    ],
)
def test_bad_smtp_urls_are_refused_by_name_without_the_password(url, says):
    error = smtp_refusal(url)
    assert says in str(error)
    assert PASSWORD not in str(error) and PASSWORD not in repr(error)
    assert quote(PASSWORD) not in str(error)


def test_port_zero_is_refused_not_silently_replaced():
    # The message for ports promises "a number between 1 and 65535"; urlsplit
    # accepts 0, and `port or default` would quietly send mail to port 25.
    error = smtp_refusal(f"smtp://user:{PASSWORD}@smtp.example.com:0")
    assert "port" in str(error) and PASSWORD not in str(error)


_secret = st.text(st.characters(min_codepoint=33, max_codepoint=0x2FF), min_size=10, max_size=30)


@settings(max_examples=60, deadline=None)
@given(
    password=_secret,
    broken=st.sampled_from(
        [
            "http://u:{pw}@h.example.com",
            "smtp://u:{pw}@",
            "smtp://u:{pw}@h.example.com:70000",
            "smtps://u:{pw}@h.example.com?starttls=1",
            "smtp://u:{pw}@h.example.com?timeout=x",
            "smtp://u:{pw}@h.example.com?x=1",
            "smtp://u:{pw}@h.example.com?a",
        ]
    ),
)
def test_no_refusal_echoes_a_percent_encoded_password(password, broken):
    encoded = quote(password, safe="")
    with pytest.raises(ConfigError) as caught:
        smtp_settings(broken.format(pw=encoded))
    assert caught.value.variable == "SMTP_URL"
    assert password not in str(caught.value) and encoded not in str(caught.value)


# -- MAIL_FROM --------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "header"),
    [
        ("Blasto <shop@blasto.example>", "Blasto <shop@blasto.example>"),
        ("shop@blasto.example", "shop@blasto.example"),
        ('"Blasto, Books & Co" <shop@blasto.example>', '"Blasto, Books & Co" <shop@blasto.example>'),
        ("  Blasto   <shop@blasto.example>  ", "Blasto <shop@blasto.example>"),
    ],
)
def test_mail_from_accepts_an_address_with_or_without_a_name(value, header):
    assert mail_from(value) == header


@pytest.mark.parametrize(
    "value",
    [
        "Blasto <shop@blasto.example>\r\nBcc: everyone@victim.example",
        "shop@blasto.example\nBcc: everyone@victim.example",
        "shop@blasto.example\r",
        "shop@blasto.example\0",
    ],
)
def test_mail_from_refuses_header_injection(value):
    with pytest.raises(ConfigError) as caught:
        mail_from(value)
    assert caught.value.variable == "MAIL_FROM" and "one line" in str(caught.value)


@pytest.mark.parametrize(
    "value",
    [
        "not an address",
        "Blasto",
        "@blasto.example",
        "shop@localhost",
        "Blasto <shop>",
        "shop at blasto.example",
        "Blasto, Books <shop@blasto.example>",
    ],  # an unquoted comma makes two addresses
)
def test_mail_from_refuses_what_is_not_an_address(value):
    with pytest.raises(ConfigError) as caught:
        mail_from(value)
    assert caught.value.variable == "MAIL_FROM" and "is not an e-mail address" in str(caught.value)


def test_mail_from_refusal_comes_from_load_config_too(tmp_path):
    with pytest.raises(ConfigError) as caught:
        config(tmp_path, BLASTO_ENV="development", MAIL_FROM="Blasto <shop@blasto.example>\nBcc: x@y.example")
    assert caught.value.variable == "MAIL_FROM"


def test_production_with_a_server_needs_a_sender(tmp_path):
    with pytest.raises(ConfigError) as caught:
        config(tmp_path, SMTP_URL=f"smtp://user:{PASSWORD}@smtp.example.com:587?starttls=true")
    assert caught.value.variable == "MAIL_FROM" and str(caught.value).startswith("MAIL_FROM ")
    assert PASSWORD not in str(caught.value)


def test_production_with_server_and_sender_sends_smtp(tmp_path):
    mail = config(tmp_path, SMTP_URL="smtp://user:pw@smtp.example.com:587?starttls=true", MAIL_FROM=SENDER)["MAIL"]
    assert mail.mode == SMTP and mail.sender == SENDER
    assert mail.smtp.host == "smtp.example.com" and mail.smtp.port == 587 and mail.smtp.starttls
    assert mail.sender_address == "shop@blasto.example" and mail.domain == "blasto.example"


# -- modes ------------------------------------------------------------------


def test_production_without_a_server_holds_mail(tmp_path):
    mail = config(tmp_path)["MAIL"]
    assert mail.mode == HOLD and mail.smtp is None


@pytest.mark.parametrize("environment", ["development", "test"])
def test_development_and_test_without_a_server_log_mail(tmp_path, environment):
    mail = config(tmp_path, BLASTO_ENV=environment)["MAIL"]
    assert mail.mode == LOG and mail.smtp is None
    assert mail.sender == DEV_MAIL_FROM


@pytest.mark.parametrize("environment", ["development", "test"])
def test_development_with_a_server_sends_with_the_default_sender(tmp_path, environment):
    mail = config(tmp_path, BLASTO_ENV=environment, SMTP_URL="smtp://127.0.0.1:1025")["MAIL"]
    assert mail.mode == SMTP and mail.smtp.port == 1025 and mail.sender == DEV_MAIL_FROM


def test_blank_smtp_url_counts_as_unset(tmp_path):
    assert config(tmp_path, SMTP_URL="  ")["MAIL"].mode == HOLD


# -- PUBLIC_URL ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, ""),
        ("  ", ""),
        ("https://blasto.herokuapp.com", "https://blasto.herokuapp.com"),
        ("https://blasto.herokuapp.com/", "https://blasto.herokuapp.com"),
        (" http://localhost:5000/shop/ ", "http://localhost:5000/shop"),
    ],
)
def test_public_url_is_normalised(tmp_path, value, expected):
    env = {} if value is None else {"PUBLIC_URL": value}
    assert config(tmp_path, **env)["PUBLIC_URL"] == expected


@pytest.mark.parametrize(
    "value",
    [
        "blasto.herokuapp.com",
        "ftp://blasto.example",
        "https://",
        "https://blasto.example/?a=1",
        "https://blasto.example/#top",
        "javascript:alert(1)",
    ],
)
def test_bad_public_url_is_refused_by_name(tmp_path, value):
    with pytest.raises(ConfigError) as caught:
        config(tmp_path, PUBLIC_URL=value)
    assert caught.value.variable == "PUBLIC_URL"


# -- OUTBOX_* -------------------------------------------------------------------


def test_outbox_defaults(tmp_path):
    cfg = config(tmp_path)
    assert cfg["OUTBOX_MAX_ATTEMPTS"] == 8
    assert cfg["OUTBOX_RETRY_BASE_SECONDS"] == 2.0
    assert cfg["OUTBOX_RETRY_MAX_SECONDS"] == 600.0
    assert cfg["OUTBOX_SWEEP_AFTER_SECONDS"] == 30.0
    assert cfg["CELERY"]["beat_schedule"]["outbox-sweep"]["schedule"] == 10.0


def test_outbox_numbers_are_read(tmp_path):
    cfg = config(
        tmp_path,
        OUTBOX_MAX_ATTEMPTS="3",
        OUTBOX_RETRY_BASE_SECONDS="0.2",
        OUTBOX_RETRY_MAX_SECONDS="5",
        OUTBOX_SWEEP_AFTER_SECONDS="2",
        OUTBOX_SWEEP_EVERY_SECONDS="0.5",
    )
    assert (
        cfg["OUTBOX_MAX_ATTEMPTS"],
        cfg["OUTBOX_RETRY_BASE_SECONDS"],
        cfg["OUTBOX_RETRY_MAX_SECONDS"],
        cfg["OUTBOX_SWEEP_AFTER_SECONDS"],
    ) == (3, 0.2, 5.0, 2.0)
    assert cfg["CELERY"]["beat_schedule"]["outbox-sweep"]["schedule"] == 0.5


@pytest.mark.parametrize(
    ("variable", "value", "says"),
    [
        ("OUTBOX_MAX_ATTEMPTS", "many", "must be a whole number"),
        ("OUTBOX_MAX_ATTEMPTS", "2.5", "must be a whole number"),
        ("OUTBOX_MAX_ATTEMPTS", "0", "between 1 and 50"),
        ("OUTBOX_MAX_ATTEMPTS", "51", "between 1 and 50"),
        ("OUTBOX_RETRY_BASE_SECONDS", "soon", "must be a number of seconds"),
        ("OUTBOX_RETRY_BASE_SECONDS", "-1", "between"),
        ("OUTBOX_RETRY_BASE_SECONDS", "inf", "between"),
        ("OUTBOX_RETRY_MAX_SECONDS", "3600", "between"),
        ("OUTBOX_RETRY_MAX_SECONDS", "nan", "between"),
        ("OUTBOX_SWEEP_AFTER_SECONDS", "0", "between"),
        ("OUTBOX_SWEEP_AFTER_SECONDS", "1m", "must be a number of seconds"),
        ("OUTBOX_SWEEP_EVERY_SECONDS", "0.01", "between"),
        ("OUTBOX_SWEEP_EVERY_SECONDS", "often", "must be a number of seconds"),
    ],
)
def test_bad_outbox_numbers_are_refused_by_name(tmp_path, variable, value, says):
    with pytest.raises(ConfigError) as caught:
        config(tmp_path, **{variable: value})
    assert caught.value.variable == variable
    assert str(caught.value).startswith(f"{variable} ") and says in str(caught.value)
