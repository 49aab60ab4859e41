"""localstripe, a stateful fake Stripe server from PyPI, started as a real process for the tests.

Stripe's servers cannot be reached from here, so the payment tests point the
official SDK at this stand-in (`stripe.api_base`) instead of mocking it. It also
serves its stand-in for Stripe.js at `/js.stripe.com/v3/` and signs the webhooks
it sends with the secret registered through `register_webhook`.

What localstripe does not do, and the app must not rely on: it ignores
`Idempotency-Key` (every create makes a new object), sends each webhook once
after about a second and never retries, and keeps its data in memory (it also
dumps it to /tmp/localstripe.pickle, which `--from-scratch` never reads back).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path
from typing import Self

import requests

from tests.support.processes import free_port, wait_for
from tests.support.services import unavailable

SECRET_KEY = "sk_test_blasto"
PUBLISHABLE_KEY = "pk_test_blasto"
START_SECONDS = 30


class PaymentStandIn:
    """One localstripe process on a free port; `stop()` (or leaving the `with`) ends it and its data."""

    def __init__(self, log_path: Path):
        self.log_path = log_path
        self.port = free_port()
        self.api_base = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen | None = None

    def __enter__(self) -> Self:
        program = shutil.which("localstripe", path=str(Path(sys.executable).parent))
        if program is None:
            unavailable("localstripe is not installed (it is in the Pipfile's dev-packages: python3 dev.py test)")
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(
                [program, "--port", str(self.port), "--from-scratch"], stdout=log, stderr=subprocess.STDOUT
            )
        wait_for(self._answers, START_SECONDS, what=f"localstripe on port {self.port} (log: {self.log_path})")
        return self

    def __exit__(self, *exc_info) -> None:
        self.stop()

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)

    def _answers(self) -> bool:
        if self.process is not None and self.process.poll() is not None:
            raise AssertionError(f"localstripe exited with {self.process.returncode}; see {self.log_path}")
        try:
            return requests.get(f"{self.api_base}/js.stripe.com/v3/", timeout=1).status_code == 200
        except requests.ConnectionError:
            return False

    def register_webhook(self, url: str, secret: str, name: str = "blasto", events: list[str] | None = None) -> None:
        """Have localstripe POST its events to `url`, signed with `secret` as Stripe signs them."""
        data: dict = {"url": url, "secret": secret}
        if events is not None:
            data["events"] = events
        response = requests.post(f"{self.api_base}/_config/webhooks/{name}", json=data, timeout=5)
        response.raise_for_status()

    def card_token(self, number: str = "4242424242424242") -> dict:
        """What Stripe.js's createToken gives the browser for a test card (no card number reaches Blasto)."""
        card = {"card[number]": number, "card[exp_month]": "12", "card[exp_year]": "2034", "card[cvc]": "123"}
        response = requests.post(f"{self.api_base}/v1/tokens", data={**card, "key": PUBLISHABLE_KEY}, timeout=5)
        response.raise_for_status()
        return response.json()
