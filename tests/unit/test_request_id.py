"""Request ids from Heroku's router (or made here) in headers and every log line."""

import io
import logging

import pytest

from blasto.core.logs import LogfmtFormatter, logfmt_value, request_id_var


def test_router_request_id_is_kept_and_returned(client):
    response = client.get("/home", headers={"X-Request-Id": "9f1c2e4a-0b6d-4c1e-8f00-3d2b1a0c9e77"})
    assert response.headers["X-Request-Id"] == "9f1c2e4a-0b6d-4c1e-8f00-3d2b1a0c9e77"


def test_the_id_is_on_g_during_the_request_and_none_outside(app_factory):
    from flask import g

    app = app_factory()

    @app.get("/_test/g")
    def read_g():
        return {"g": g.request_id}

    response = app.test_client().get("/_test/g", headers={"X-Request-Id": "rid-on-g"})
    assert response.get_json() == {"g": "rid-on-g"}
    with app.app_context():
        assert g.request_id is None


def test_a_request_id_is_generated_when_absent(client):
    first = client.get("/api/v1/home").headers["X-Request-Id"]
    second = client.get("/api/v1/home").headers["X-Request-Id"]
    assert len(first) == 32 and first != second


@pytest.mark.parametrize("hostile", ["a b", 'x" level=critical', "x" * 201, "<script>", "é", ""])
def test_an_unsafe_request_id_is_replaced_not_logged(client, hostile):
    response = client.get("/home", headers={"X-Request-Id": hostile})
    returned = response.headers["X-Request-Id"]
    assert returned != hostile and len(returned) == 32


def test_every_log_line_of_a_request_carries_its_id(app_factory):
    app = app_factory()
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(LogfmtFormatter())
    logger = logging.getLogger("blasto.test")
    logger.addHandler(handler)

    @app.get("/_test/log")
    def log_twice():
        logger.warning("first")
        logger.warning("second", extra={"items": 2})
        return "ok"

    try:
        app.test_client().get("/_test/log", headers={"X-Request-Id": "abc-123"})
    finally:
        logger.removeHandler(handler)
    lines = stream.getvalue().splitlines()
    assert len(lines) == 2
    assert all("request_id=abc-123" in line for line in lines)
    assert lines[1].endswith("items=2")
    assert request_id_var.get() is None, "the id does not leak past the request"


def test_logfmt_keeps_one_event_per_line():
    record = logging.LogRecord("blasto", logging.ERROR, __file__, 1, 'bad "input"\nnext', None, None)
    try:
        raise ValueError("boom")
    except ValueError:
        import sys

        record.exc_info = sys.exc_info()
    line = LogfmtFormatter().format(record)
    assert "\n" not in line
    assert 'msg="bad \\"input\\"\\nnext"' in line
    assert 'error="ValueError: boom"' in line and "traceback=" in line
    assert logfmt_value("plain") == "plain" and logfmt_value("a=b") == '"a=b"' and logfmt_value("") == '""'
