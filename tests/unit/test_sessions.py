"""Cookie sessions still sign and verify with the cached serializer."""
from flask import session


def test_session_round_trips_and_rejects_tampering(app_factory):
    app = app_factory(SECRET_KEY="one-secret-key-for-this-test-0123456789")

    @app.post("/_test/session")
    def write():
        session["cart"] = [1, 2]
        return "ok"

    @app.get("/_test/session")
    def read():
        return {"cart": session.get("cart")}

    client = app.test_client()
    client.post("/_test/session")
    assert client.get("/_test/session").get_json() == {"cart": [1, 2]}
    cookie = client.get_cookie("session")
    client.set_cookie("session", cookie.value[:-2] + "xx")
    assert client.get("/_test/session").get_json() == {"cart": None}


def test_a_rotated_key_invalidates_old_cookies(app_factory):
    first = app_factory(SECRET_KEY="first-secret-key-0123456789abcdefghij")
    second = app_factory(SECRET_KEY="second-secret-key-0123456789abcdefghi")
    for app in (first, second):
        @app.post("/_test/s")
        def write():
            session["n"] = 1
            return "ok"

        @app.get("/_test/s")
        def read():
            return {"n": session.get("n")}

    client = first.test_client()
    client.post("/_test/s")
    value = client.get_cookie("session").value
    other = second.test_client()
    other.set_cookie("session", value)
    assert other.get("/_test/s").get_json() == {"n": None}
