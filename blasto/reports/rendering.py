"""A built report's results: two CSVs, a PNG chart and a summary for the page.

Charts are drawn with matplotlib's object API on the Agg canvas (no pyplot,
so no global figure state shared between tasks). CSV cells that a
spreadsheet would run as a formula are defused with a leading apostrophe:
book titles are typed by admins and must not become formulas on someone
else's machine.
"""

from __future__ import annotations

import csv
import io

from blasto.reports.ranges import DateRange
from blasto.shop.money import CURRENCY, format_cents

TOP_BOOKS = 10
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def summary(span: DateRange, totals, books: dict[int, tuple[str, str]]) -> dict:
    best_day = max(totals.days.items(), key=lambda item: (item[1][2], item[0]), default=None)
    return {
        "from": span.first.isoformat(),
        "to": span.last.isoformat(),
        "days": span.days,
        "orders": totals.orders,
        "units": totals.units,
        "revenue_cents": totals.revenue_cents,
        "currency": CURRENCY,
        "best_day": None if best_day is None else {"date": best_day[0].isoformat(), "revenue_cents": best_day[1][2]},
        "top_books": [
            {
                "rank": rank,
                "book_id": book_id,
                "title": title,
                "author": author,
                "units": units,
                "revenue_cents": revenue,
            }
            for rank, (book_id, units, revenue) in enumerate(ranked_books(totals)[:TOP_BOOKS], start=1)
            for title, author in [books.get(book_id, ("?", "?"))]
        ],
    }


def ranked_books(totals) -> list[tuple[int, int, int]]:
    """(book id, units, revenue) by revenue, then units, then id: a stable order for equal sellers."""
    return sorted(
        ((book_id, units, revenue) for book_id, (units, revenue) in totals.books.items()),
        key=lambda row: (-row[2], -row[1], row[0]),
    )


def days_csv(span: DateRange, totals) -> str:
    """Every day of the range, including days without sales."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(["date", "orders", "units", f"revenue_{CURRENCY.lower()}"])
    for day in span.each_day():
        orders, units, revenue = totals.days.get(day, (0, 0, 0))
        writer.writerow([day.isoformat(), orders, units, decimal(revenue)])
    return out.getvalue()


def books_csv(totals, books: dict[int, tuple[str, str]]) -> str:
    """Units and revenue per book, best seller first (the rank column is the top-books list)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(["rank", "book_id", "title", "author", "units", f"revenue_{CURRENCY.lower()}"])
    for rank, (book_id, units, revenue) in enumerate(ranked_books(totals), start=1):
        title, author = books.get(book_id, ("", ""))
        writer.writerow([rank, book_id, defused(title), defused(author), units, decimal(revenue)])
    return out.getvalue()


def defused(text: str) -> str:
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def decimal(cents: int) -> str:
    sign = "-" if cents < 0 else ""
    return f"{sign}{abs(cents) // 100}.{abs(cents) % 100:02d}"


def chart_png(span: DateRange, totals, books: dict[int, tuple[str, str]]) -> bytes:
    """Revenue per day above, the top books by revenue below."""
    from matplotlib import rc_context

    # "$" in a title or a price would otherwise start TeX-like math mode.
    with rc_context({"text.parse_math": False}):
        return _draw(span, totals, books)


def _draw(span: DateRange, totals, books: dict[int, tuple[str, str]]) -> bytes:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.dates import AutoDateLocator, ConciseDateFormatter
    from matplotlib.figure import Figure
    from matplotlib.ticker import FuncFormatter

    money = FuncFormatter(lambda value, _: format_cents(int(round(value * 100))).replace(".00", ""))
    figure = Figure(figsize=(10, 8), dpi=100, layout="constrained")
    FigureCanvasAgg(figure)
    per_day, top = figure.subplots(2, 1, height_ratios=[3, 2])

    days = list(span.each_day())
    revenue = [totals.days.get(day, (0, 0, 0))[2] / 100 for day in days]
    if len(days) <= 62:
        per_day.bar(days, revenue, color="#2f6f8f", width=0.8)
    else:
        per_day.fill_between(days, revenue, step="mid", color="#2f6f8f", alpha=0.85, linewidth=0)
    per_day.set_title(
        f"Revenue per day, {span.first.isoformat()} to {span.last.isoformat()} ({format_cents(totals.revenue_cents)} in all)"
    )
    per_day.yaxis.set_major_formatter(money)
    per_day.set_ylim(bottom=0)
    per_day.grid(axis="y", alpha=0.3)
    locator = AutoDateLocator()
    per_day.xaxis.set_major_locator(locator)
    per_day.xaxis.set_major_formatter(ConciseDateFormatter(locator))

    ranked = ranked_books(totals)[:TOP_BOOKS]
    labels = [shorten(books.get(book_id, ("?", ""))[0]) for book_id, _, _ in ranked]
    top.barh(range(len(ranked)), [revenue / 100 for _, _, revenue in ranked], color="#c0703a")
    top.set_yticks(range(len(ranked)), labels)
    top.invert_yaxis()
    top.xaxis.set_major_formatter(money)
    top.set_title(f"Top {len(ranked)} books by revenue" if ranked else "No sales in this range")
    top.grid(axis="x", alpha=0.3)

    out = io.BytesIO()
    figure.savefig(out, format="png", metadata={"Software": None})
    return out.getvalue()


def shorten(title: str, limit: int = 40) -> str:
    return title if len(title) <= limit else title[: limit - 1] + "…"
