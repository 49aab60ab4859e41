"""axe-core, Deque's accessibility engine, run inside a Playwright page.

axe-core is JavaScript; axe-playwright-python (a dev package in the lock) ships
its released `axe.min.js` and puts it into the page with Playwright's evaluate
(a DevTools call, so the site's Content-Security-Policy does not stop it). It
runs axe's default rules: WCAG 2.x A and AA and the best practices.
"""

from __future__ import annotations

from functools import cache

from axe_playwright_python.sync_playwright import Axe


@cache
def _axe() -> Axe:
    return Axe()


def axe_violations(page) -> list[str]:
    """What axe-core finds wrong on the page as it is now, one line per rule and element ([] when none)."""
    lines = []
    for rule in _axe().run(page).response["violations"]:
        for node in rule["nodes"]:
            summary = " ".join((node.get("failureSummary") or "").split())
            target = " ".join(map(str, node["target"]))
            lines.append(f"{rule['id']} ({rule['impact']}): {rule['help']} at {target}; {summary}")
    return lines
