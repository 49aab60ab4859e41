"""An admin asks for a sales report in the browser and watches the worker build it.

The DOM contract of /admin/reports and /admin/reports/<id>:
- the form has labelled date inputs #report-from and #report-to (type=date)
  and a submit button named "Build report";
- the report page shows <progress id="report-progress" max="100" value="N">
  and #report-state ("queued", "running", "done" or "failed"), moved live by
  JavaScript polling;
- when done: the progress value is 100, #report-state says done,
  <svg id="report-chart" role="img"> (named by its title) draws revenue per
  day inside its column, table#report-days holds the same figures, and
  a#report-csv links to a CSV download.

The shop needs sales history first: `flask --app blasto seed --sales 3000`
adds a year of sample purchases, which is why these tests run last
(`changes_shop`) on the shared stack.
"""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, datetime, timedelta
from urllib.parse import urljoin

import pytest
from playwright.sync_api import expect

from tests.browser.shopping import TIMEOUT_MS, log_in, make_admin, unlabelled_controls

pytestmark = [pytest.mark.browser, pytest.mark.changes_shop]

BUILD_TIMEOUT_MS = 60_000

# Installed before any page script runs, on every page of the test's context:
# on a report page, each change of the progress bar or the state (attribute,
# property reflected to the attribute, or re-rendered element) is reported to
# the test through an exposed function. It survives the page reloading itself.
WATCH_PROGRESS_JS = """
(() => {
  if (!/\\/admin\\/reports\\/[^/]+$/.test(location.pathname)) return;
  let last = null;
  const look = () => {
    const bar = document.getElementById('report-progress');
    if (!bar) return;
    const state = document.getElementById('report-state');
    const seen = {value: bar.value, state: state ? state.textContent.trim() : null};
    const key = JSON.stringify(seen);
    if (key !== last) {
      last = key;
      if (window.blastoProgressSeen) window.blastoProgressSeen(seen);
    }
  };
  new MutationObserver(look).observe(document, {subtree: true, childList: true, attributes: true, characterData: true});
})();
"""


@pytest.fixture(scope="module")
def sales_history(stack):
    """A year of sample sales in the shared stack's database."""
    output = stack.check_flask("seed", "--sales", "3000", timeout=240)
    count = stack.scalar("SELECT count(*) FROM purchases")
    assert count >= 3000, f"seed --sales 3000 left {count} purchases:\n{output}"
    return count


@pytest.fixture(scope="module")
def admin(stack):
    return make_admin(stack)


def test_an_admin_builds_a_sales_report_and_watches_it_finish(page, stack, admin, sales_history, record_property):
    seen: list[dict] = []
    page.expose_function("blastoProgressSeen", lambda value: seen.append(value))
    page.add_init_script(WATCH_PROGRESS_JS)
    log_in(page, admin)

    # The form: two labelled date inputs and the button.
    page.goto("/admin/reports")
    date_from, date_to = page.locator("input#report-from"), page.locator("input#report-to")
    for date_input in (date_from, date_to):
        expect(date_input).to_be_visible(timeout=TIMEOUT_MS)
        expect(date_input).to_have_attribute("type", "date", timeout=TIMEOUT_MS)
    assert unlabelled_controls(page) == [], "every control of the report form has a label"
    labels = page.evaluate(
        "() => ['report-from', 'report-to'].map((id) => [...document.getElementById(id).labels].map((l) => l.textContent.trim()))"
    )
    assert all(labels), f"#report-from and #report-to have <label>s: {labels}"

    today = datetime.now(UTC).date()
    first_day = today - timedelta(days=364)
    date_from.fill(first_day.isoformat())
    date_to.fill(today.isoformat())
    page.get_by_role("button", name="Build report").click()

    # The report page follows the build by itself.
    expect(page).to_have_url(re.compile(r"/admin/reports/[^/?#]+$"), timeout=TIMEOUT_MS)
    report_url = page.url
    progress, state = page.locator("progress#report-progress"), page.locator("#report-state")
    expect(progress).to_have_attribute("max", "100", timeout=TIMEOUT_MS)
    expect(state).to_have_text(re.compile(r"^\s*(queued|running|done|failed)\s*$"), timeout=TIMEOUT_MS)
    expect(state).to_have_text(re.compile(r"^\s*(done|failed)\s*$"), timeout=BUILD_TIMEOUT_MS)
    assert state.inner_text().strip() == "done", f"the report failed: {page.locator('main').inner_text()[:1000]}"
    expect(progress).to_have_js_property("value", 100, timeout=TIMEOUT_MS)
    expect(progress).to_have_attribute("value", "100", timeout=TIMEOUT_MS)
    assert page.url == report_url

    # The chart is inline SVG, named for a screen reader, one bar per day, inside its column.
    chart = page.get_by_role("img", name=re.compile(r"^Revenue per day, \d{4}-\d\d-\d\d to "))
    expect(chart).to_be_visible(timeout=TIMEOUT_MS)
    assert chart.evaluate("svg => [svg.tagName, svg.id]") == ["svg", "report-chart"]
    bars = page.locator("#report-chart rect.report-chart__bar")
    expect(bars).to_have_count(365, timeout=TIMEOUT_MS)
    fits = chart.evaluate(
        "svg => { const box = svg.getBoundingClientRect(), column = svg.parentElement.getBoundingClientRect();"
        " return {width: box.width, column: column.width, window: innerWidth}; }"
    )
    assert 0 < fits["width"] <= fits["column"] <= fits["window"], f"the chart fits its column: {fits}"
    expect(page.locator("table#report-days tbody tr")).to_have_count(365, timeout=TIMEOUT_MS)

    # The CSV download, fetched with the admin's session.
    csv_link = page.locator("a#report-csv")
    expect(csv_link).to_be_visible(timeout=TIMEOUT_MS)
    href = csv_link.get_attribute("href")
    assert href, "a#report-csv has an href"
    response = page.request.get(urljoin(page.url, href), timeout=TIMEOUT_MS)
    assert response.status == 200, f"GET {href}: {response.status}"
    assert response.headers.get("content-type", "").split(";")[0].strip() == "text/csv", response.headers
    rows = list(csv.reader(io.StringIO(response.text())))
    assert rows, "the CSV is not empty"
    header = rows[0]
    assert len(header) >= 2 and all(cell.strip() for cell in header), f"a header row names every column: {header}"
    assert not any(re.fullmatch(r"[-+$0-9.,\s]+", cell) for cell in header), (
        f"the first row is a header, not data: {header}"
    )
    assert len(rows) > 1 and all(len(row) == len(header) for row in rows[1:] if row), "data rows under the header"

    # What the page showed while the worker built the report (not required to have steps in between).
    values = [item["value"] for item in seen]
    record_property("progress_seen", seen)
    print(f"progress values seen while polling: {values}; states: {[item['state'] for item in seen]}")
    assert all(0 <= value <= 100 for value in values), values
    assert values and values[-1] == 100, f"the bar ended at 100: {seen}"


ADMIN_PAGES = ("/admin/books", "/admin/books/new", "/admin/purchases", "/admin/outbox", "/admin/reports")


def test_every_admin_form_control_has_a_label(page, admin):
    log_in(page, admin)
    missing = {}
    for path in ADMIN_PAGES:
        response = page.goto(path)
        assert response is not None and response.status == 200, f"GET {path}: {response.status if response else None}"
        unlabelled = unlabelled_controls(page)
        if unlabelled:
            missing[path] = unlabelled
    assert missing == {}, f"controls without an accessible label: {missing}"
