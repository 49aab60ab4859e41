"""Browser tests: Debian's Chromium, driven by Playwright, against the real Procfile stack.

One stack for the whole tests/browser package (`scope="package"`): release,
seed, then `honcho start web worker clock` on Postgres and a Redis of its own
with an SMTP sink (tests/support/browser_stack.py). It stops when the last
browser test is done. Each test gets a fresh browser context (no cookies, no
cart) and page.

The browser is the one on PATH: `chrome` from Heroku's Chrome for Testing
buildpack on a Heroku CI dyno (app.json's environments.test), else Debian's
`chromium`; Playwright's own download is not used. Without one these tests
skip and say why; with BLASTO_REQUIRE_SERVICES=1 (CI) that skip is a failure,
like a missing Postgres or Redis.

When a test that uses a page fails in its call phase, a full-page screenshot
goes to test-artifacts/screenshots/<test name>.png and the report says where,
next to the tail of the stack's log.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from tests.support.browser_stack import browser_stack
from tests.support.processes import ROOT
from tests.support.services import unavailable

SCREENSHOTS = ROOT / "test-artifacts" / "screenshots"
# Explicit timeouts for Playwright's auto-waiting (milliseconds).
ACTION_TIMEOUT_MS = 10_000
NAVIGATION_TIMEOUT_MS = 20_000
PAGES = pytest.StashKey[list]()  # the pages a test opened, for the screenshot on failure


# Chrome for Testing's name (heroku-community/chrome-for-testing puts it on PATH), then Debian's and Ubuntu's.
BROWSER_PROGRAMS = ("chrome", "chromium", "chromium-browser")


def chromium_path() -> str:
    path = next(filter(None, map(shutil.which, BROWSER_PROGRAMS)), None)
    if path is None:
        unavailable(f"no Chromium on PATH (looked for {', '.join(BROWSER_PROGRAMS)}; apt-get install chromium)")
    return path


@pytest.fixture(scope="package")
def stack(tmp_path_factory, postgres_admin):
    """The shop running as on Heroku: web, worker and clock from the Procfile."""
    with browser_stack(tmp_path_factory.mktemp("browser-stack"), postgres_admin) as running:
        yield running


@pytest.fixture(scope="package")
def playwright():
    try:
        from playwright.sync_api import sync_playwright
    except ImportError as exc:  # pragma: no cover - it is a locked dev dependency
        unavailable(f"Playwright for Python is not installed: {exc}")
    with sync_playwright() as running:
        yield running


@pytest.fixture(scope="package")
def browser(playwright):
    """Headless Chrome for Testing or Chromium, given to Playwright by path (its own download is never used)."""
    executable = chromium_path()
    try:
        launched = playwright.chromium.launch(executable_path=executable, headless=True)
    except Exception as exc:
        unavailable(f"Chromium at {executable} did not start: {str(exc).splitlines()[0]}")
    yield launched
    launched.close()


@pytest.fixture
def new_page(request, browser, stack):
    """Make pages, each in its own fresh context (own cookies, own cart), e.g. with a phone's viewport."""
    contexts = []
    pages = request.node.stash.setdefault(PAGES, [])

    def make(**context_options):
        context = browser.new_context(base_url=stack.base, **context_options)
        context.set_default_timeout(ACTION_TIMEOUT_MS)
        context.set_default_navigation_timeout(NAVIGATION_TIMEOUT_MS)
        contexts.append(context)
        pages.append(context.new_page())
        return pages[-1]

    yield make
    for context in contexts:
        context.close()


@pytest.fixture
def page(new_page):
    """A page in a fresh desktop-sized context."""
    return new_page(viewport={"width": 1280, "height": 900})


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "changes_shop: the test changes the shared browser stack's data a lot; run it last"
    )


def pytest_collection_modifyitems(config, items):
    """Within this package, tests marked changes_shop run last (`seed --sales` adds a year of purchases).

    Only this package's items move, and they stay together, so its one stack serves them all.
    """
    here = Path(__file__).resolve().parent
    ours = [item for item in items if here in Path(item.path).resolve().parents]
    if not ours:
        return
    start = items.index(ours[0])
    mine = set(ours)
    others = [item for item in items if item not in mine]
    items[:] = (
        others[:start]
        + sorted(ours, key=lambda item: item.get_closest_marker("changes_shop") is not None)
        + others[start:]
    )


def _screenshot_path(item, index: int) -> Path:
    name = re.sub(r"[^A-Za-z0-9_.-]+", "_", item.name).strip("_")
    return SCREENSHOTS / (f"{name}.png" if index == 1 else f"{name}-page{index}.png")


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    """On a failed call: a full-page screenshot of each page the test opened, and the stack log's tail."""
    report = yield
    if report.when != "call" or not report.failed:
        return report
    for index, page in enumerate(item.stash.get(PAGES, []), 1):
        if page.is_closed():
            continue
        path = _screenshot_path(item, index)
        try:
            SCREENSHOTS.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(path), full_page=True, timeout=10_000)
        except Exception as exc:  # a screenshot must never hide the real failure
            report.sections.append(("screenshot", f"could not save {path}: {exc}"))
        else:
            where = path.relative_to(ROOT)
            report.sections.append(("screenshot", f"saved {where} (page at {page.url})"))
            report.user_properties.append(("screenshot", str(where)))
    stack = item.funcargs.get("stack") if hasattr(item, "funcargs") else None
    if stack is not None:  # the periodic sweeps are left out: they would fill the tail
        lines = [line for line in stack.output().splitlines() if "sweep" not in line]
        report.sections.append(("stack log (last 60 lines, sweeps left out)", "\n".join(lines[-60:])))
    return report
