"""The one password rule, and every door that must use it: sign-up page, API, create-admin."""

from __future__ import annotations

import pytest

from blasto.shop import passwords
from blasto.shop.passwords import (
    COMMON,
    LENGTH,
    LIKE_EMAIL,
    PASSWORD_MAX,
    PASSWORD_MIN,
    common_passwords,
    password_problem,
)
from tests.support.form_browser import Browser

GOOD = "Orchard-Lantern-Velvet"
# Every fixture password the suites sign up or log in with must pass the rule.
FIXTURE_PASSWORDS = {
    "tests/support/factories.py": "correct horse battery",
    "tests/browser/shopping.py": "a long passphrase",
    "tests/functional (sign-up forms)": "long enough",
    "tests/functional/test_accounts.py": "another passphrase",
}


def test_the_minimum_is_at_least_ten_and_the_maximum_128():
    assert PASSWORD_MIN >= 10 and PASSWORD_MAX == 128


def test_the_list_is_ten_thousand_passwords_loaded_once():
    common = common_passwords()
    assert isinstance(common, frozenset) and len(common) == 10_000
    assert {"password", "123456", "qwertyuiop", "1234567890", "eyphed"} <= common
    assert all(entry == entry.strip().casefold() and entry for entry in common)
    assert common_passwords() is common, "read from the file once per process"


@pytest.mark.parametrize("password", ["qwertyuiop", "QwertyUIOP", "1234567890", " basketball ", "CHRISTOPHER"])
def test_common_passwords_are_refused_whatever_their_case(password):
    assert password_problem(password) == COMMON == "This password is among the most common ones; choose another."


@pytest.mark.parametrize("password", ["", "x", "nine char", "x" * (PASSWORD_MAX + 1), "é" * (PASSWORD_MIN - 1)])
def test_length_outside_the_bounds_is_refused(password):
    assert password_problem(password) == LENGTH == f"Use between {PASSWORD_MIN} and {PASSWORD_MAX} characters."


@pytest.mark.parametrize("password", ["x" * PASSWORD_MIN, "x" * PASSWORD_MAX, "é" * PASSWORD_MIN, GOOD])
def test_lengths_at_the_bounds_are_accepted(password):
    assert password_problem(password) is None


@pytest.mark.parametrize(
    ("password", "email"),
    [
        ("ada.lovelace@example.com", "ada.lovelace@example.com"),
        ("ADA.Lovelace@Example.com", "ada.lovelace@example.com"),
        ("ada.lovelace", "ada.lovelace@example.com"),
        ("Ada.Lovelace", "  Ada.Lovelace@example.com "),
    ],
)
def test_the_email_or_its_local_part_is_refused(password, email):
    assert password_problem(password, email) == LIKE_EMAIL
    assert password_problem(password) is None, "only because of the address"


def test_a_password_merely_containing_the_local_part_is_fine():
    assert password_problem("ada.lovelace-2026", "ada.lovelace@example.com") is None
    assert password_problem("a long passphrase", "not-an-address") is None


@pytest.mark.parametrize("where", sorted(FIXTURE_PASSWORDS))
def test_the_suites_fixture_passwords_pass_the_rule(where):
    assert password_problem(FIXTURE_PASSWORDS[where], "reader@example.com") is None, where


def test_fixture_constants_are_the_ones_checked():
    from tests.browser.shopping import PASSWORD as BROWSER
    from tests.support.api_client import PASSWORD as API
    from tests.support.factories import PASSWORD as PAGES
    from tests.support.receipts import PASSWORD as E2E

    assert {API, PAGES, E2E} == {FIXTURE_PASSWORDS["tests/support/factories.py"]}
    assert FIXTURE_PASSWORDS["tests/browser/shopping.py"] == BROWSER


# -- the three doors ----------------------------------------------------------------------

REFUSED = [
    ("qwertyuiop", "new@example.com", COMMON),
    ("short", "new@example.com", LENGTH),
    ("x" * (PASSWORD_MAX + 1), "new@example.com", LENGTH),
    ("New.Person", "new.person@example.com", LIKE_EMAIL),
]


@pytest.mark.parametrize(("password", "email", "message"), REFUSED)
def test_the_sign_up_page_says_why(db_app, password, email, message):
    browser = Browser(db_app.test_client())
    page = browser.submit(browser.get("/signup"), "/signup", {"name": "New", "email": email, "password": password})
    assert page.status == 400
    assert 'id="password-error"' in page.html and message in page.text
    assert _users(db_app) == 0


def test_the_sign_up_page_accepts_a_good_password_and_hints_the_length(db_app):
    browser = Browser(db_app.test_client())
    page = browser.get("/signup")
    control = next(control for control in page.controls if control.get("id") == "password")
    assert (control["minlength"], control["maxlength"]) == (str(PASSWORD_MIN), str(PASSWORD_MAX))
    page = browser.submit(page, "/signup", {"name": "New", "email": "new@example.com", "password": GOOD})
    assert page.status == 200 and "Welcome to Blasto, New!" in page.text
    assert _users(db_app) == 1


@pytest.mark.parametrize(("password", "email", "message"), REFUSED)
def test_the_api_says_why(db_app, password, email, message):
    response = db_app.test_client().post("/api/v1/users", json={"email": email, "password": password, "name": "New"})
    assert response.status_code == 422
    assert response.get_json()["errors"]["json"]["password"] == [message]
    assert _users(db_app) == 0


def test_the_api_documents_the_rule(db_app):
    schema = db_app.test_client().get("/api/v1/openapi.json").get_json()["components"]["schemas"]["UserCreate"]
    password = schema["properties"]["password"]
    assert (password["minLength"], password["maxLength"]) == (PASSWORD_MIN, PASSWORD_MAX)
    assert "common" in password["description"]


@pytest.mark.parametrize(("password", "email", "message"), REFUSED)
def test_create_admin_says_why(db_app, password, email, message):
    result = db_app.test_cli_runner().invoke(args=["create-admin", email], input=f"{password}\n{password}\n")
    assert result.exit_code == 2, result.output
    assert message in result.output
    assert _users(db_app) == 0


def test_create_admin_accepts_a_good_password(db_app):
    result = db_app.test_cli_runner().invoke(args=["create-admin", "boss@example.com"], input=f"{GOOD}\n{GOOD}\n")
    assert result.exit_code == 0, result.output
    assert _users(db_app) == 1


def test_no_door_keeps_its_own_copy_of_the_rule():
    from pathlib import Path

    root = Path(passwords.__file__).resolve().parents[1]
    for module in ("site/forms.py", "api/schemas.py", "admin/cli.py"):
        source = (root / module).read_text()
        assert "password_problem" in source, module
        assert "Length(PASSWORD_MIN" not in source and "Length(min=PASSWORD_MIN" not in source, module


def _users(app) -> int:
    from sqlalchemy import func, select

    from blasto.core.extensions import db
    from blasto.models import User

    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(User))


@pytest.mark.parametrize("padded", ["password123!", "2024dragon!!", "sunshine2024", "Qwertyuiop1", "  monkey!!!!!  "])
def test_a_common_word_padded_with_digits_or_symbols_to_the_minimum_is_common(padded):
    assert password_problem(padded) == COMMON


@pytest.mark.parametrize("fine", ["correct horse battery", "Tr0ub4dor&3x", "9876543219"])
def test_padding_alone_or_uncommon_words_are_not_called_common(fine):
    assert password_problem(fine) is None


def test_only_test_mode_takes_the_one_round_hash_production_and_development_use_scrypt(app_factory):
    import secrets

    from blasto.core.config import TEST_PASSWORD_HASH, load_config
    from blasto.models import User

    for blasto_env in ("production", "development"):
        config = load_config(
            {"BLASTO_ENV": blasto_env, "SECRET_KEY": secrets.token_hex(32)}, instance_path="/nonexistent"
        )
        assert config["PASSWORD_HASH_METHOD"] == "scrypt", blasto_env
    for method, prefix in (("scrypt", "scrypt:"), (TEST_PASSWORD_HASH, "pbkdf2:sha256:1$")):
        with app_factory(PASSWORD_HASH_METHOD=method).app_context():
            user = User(email="hash@example.com", name="Hash")
            user.set_password("correct horse battery")
            assert user.password_hash.startswith(prefix)
            assert user.check_password("correct horse battery") and not user.check_password("correct horse batterY")
