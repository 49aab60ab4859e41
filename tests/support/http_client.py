"""Talking to a running web process over HTTP: is it up, and an account with a token."""

from __future__ import annotations

import uuid

import requests

PASSWORD = "correct horse battery"


def answers(url: str) -> bool:
    """True once `url` answers 200; a refused or timed-out connection is just "not yet"."""
    try:
        return requests.get(url, timeout=2).status_code == 200
    except requests.RequestException:
        return False


def new_account(base: str, prefix: str = "shopper", name: str = "Shopper") -> tuple[str, str]:
    """(e-mail, bearer token) of an account signed up through the API."""
    email = f"{prefix}-{uuid.uuid4().hex[:10]}@example.com"
    response = requests.post(
        f"{base}/api/v1/users", json={"email": email, "password": PASSWORD, "name": name}, timeout=15
    )
    assert response.status_code == 201, response.text
    response = requests.post(f"{base}/api/v1/tokens", auth=(email, PASSWORD), timeout=15)
    assert response.status_code == 201, response.text
    return email, response.json()["token"]


def raw_request(port: int, method: str, path: str, headers: dict | None = None) -> tuple[int, dict, bytes]:
    """(status, headers, body) of one request sent as written: no redirect followed, no path tidied, no decoding."""
    import http.client

    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.request(method, path, headers=headers or {})
        response = connection.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        connection.close()
