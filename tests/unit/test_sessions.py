"""Cookie sessions are signed: a tampered cookie or one signed with another key is an empty session."""

from flask import session

from blasto.core.extensions import csrf


def session_app(app_factory, secret_key):
    """An app with one route that writes the session and one that reads it."""
    app = app_factory(SECRET_KEY=secret_key)

    @app.post("/_test/session")
    @csrf.exempt  # this test is about signing, not forms
    def write():
        session["cart"] = [1, 2]
        return "ok"

    @app.get("/_test/session")
    def read():
        return {"cart": session.get("cart")}

    return app


def test_session_round_trips_and_rejects_tampering(app_factory):
    client = session_app(app_factory, "one-secret-key-for-this-test-0123456789").test_client()
    client.post("/_test/session")
    assert client.get("/_test/session").get_json() == {"cart": [1, 2]}
    cookie = client.get_cookie("session")
    client.set_cookie("session", cookie.value[:-2] + "xx")
    assert client.get("/_test/session").get_json() == {"cart": None}


def test_a_rotated_key_invalidates_old_cookies(app_factory):
    first = session_app(app_factory, "first-secret-key-0123456789abcdefghij").test_client()
    second = session_app(app_factory, "second-secret-key-0123456789abcdefghi").test_client()
    first.post("/_test/session")
    second.set_cookie("session", first.get_cookie("session").value)
    assert second.get("/_test/session").get_json() == {"cart": None}
