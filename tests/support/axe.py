"""axe-core, Deque's accessibility engine, run inside a Playwright page.

axe-core is JavaScript: its released `axe.min.js` (version in AXE_VERSION, MPL-2.0, LICENSE beside it)
is kept in tests/support/axe/ so the check needs no download and gives the same answers everywhere.
It is put into the page by Playwright's evaluate (a DevTools call, so the site's Content-Security-Policy
does not stop it) and run with its default rules: WCAG 2.x A and AA and the best practices.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

AXE_VERSION = "4.14.1"
AXE_SCRIPT = Path(__file__).resolve().parent / "axe" / "axe.min.js"

RUN_AXE_JS = """
async () => {
  const results = await axe.run(document, {resultTypes: ['violations']});
  return results.violations.map((rule) => ({
    id: rule.id,
    impact: rule.impact,
    help: rule.help,
    nodes: rule.nodes.map((node) => ({target: node.target.join(' '), summary: node.failureSummary})),
  }));
}
"""


@cache
def axe_source() -> str:
    source = AXE_SCRIPT.read_text(encoding="utf-8")
    assert f"axe v{AXE_VERSION}" in source[:200], f"{AXE_SCRIPT} is not axe-core {AXE_VERSION}"
    return source


def axe_violations(page) -> list[str]:
    """What axe-core finds wrong on the page as it is now, one line per rule and element ([] when none)."""
    if not page.evaluate("() => typeof window.axe === 'object'"):
        page.evaluate(axe_source())
    lines = []
    for rule in page.evaluate(RUN_AXE_JS):
        for node in rule["nodes"]:
            summary = " ".join((node["summary"] or "").split())
            lines.append(f"{rule['id']} ({rule['impact']}): {rule['help']} at {node['target']}; {summary}")
    return lines
