"""A report's revenue per day as an SVG bar chart, written as text for the admin page.

Drawn on the server so the page needs no script and no image request: the
viewBox lets the browser scale it to whatever column holds it, phone or
desktop. Colours and sizes are presentation attributes, not `style`, because
the CSP allows no inline styles. Every piece of text goes through
Markup.format, which escapes it.
The figures come from the report's own days CSV, so the chart, the table
beside it and the download always agree.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from markupsafe import Markup

from blasto.shop.money import format_cents

WIDTH, HEIGHT = 480, 260  # viewBox units; the page scales them to the column's width
LEFT, RIGHT, TOP, BOTTOM = 72, 12, 12, 36  # room for the money labels and the dates
GRIDLINES = 4  # at most this many steps above zero
DATE_LABELS = 4  # the first day, the last, and evenly spaced ones between
FONT_SIZE = 14  # about 10 px on a phone, 19 px in a 40rem column
BAR_COLOUR = "#2b5144"  # the site's forest green: 8:1 on white
INK, GRID = "#1f1c19", "#d8cfbd"
NO_SALES = "No sales in this range"


@dataclass(frozen=True)
class DaySales:
    day: date
    orders: int
    units: int
    revenue_cents: int


def days_from_csv(text: str) -> list[DaySales]:
    """The rows of a report's days CSV (date, orders, units, revenue in dollars) as numbers."""
    rows = csv.reader(io.StringIO(text))
    next(rows, None)  # the header
    return [
        DaySales(date.fromisoformat(day), int(orders), int(units), int(Decimal(revenue) * 100))
        for day, orders, units, revenue in (row for row in rows if row)
    ]


def revenue_chart(days: Sequence[DaySales], element_id: str = "report-chart") -> Markup:
    """An inline <svg> with one bar per day, or a plain sentence when nothing was sold."""
    if not any(day.revenue_cents > 0 for day in days):
        return Markup('<p class="report__no-sales" id="{}">{}.</p>').format(element_id, NO_SALES)
    first, last = days[0].day, days[-1].day
    total = sum(day.revenue_cents for day in days)
    best = max(days, key=lambda day: (day.revenue_cents, day.day))
    step = _nice_step(best.revenue_cents)
    top = step * -(-best.revenue_cents // step)  # the highest gridline, at or above the best day
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    title = f"Revenue per day, {first.isoformat()} to {last.isoformat()}"
    description = (
        f"Bar chart of {len(days)} days: {format_cents(total)} in all; the best day was "
        f"{best.day.isoformat()} with {format_cents(best.revenue_cents)}. "
        "The table below lists the same figures day by day."
    )
    parts = [
        Markup(
            '<svg xmlns="http://www.w3.org/2000/svg" id="{id}" class="report-chart" role="img" '
            'viewBox="0 0 {w} {h}" width="100%" preserveAspectRatio="xMidYMid meet" '
            'aria-labelledby="{id}-title" aria-describedby="{id}-desc" '
            'font-family="system-ui, sans-serif" font-size="{fs}" fill="{ink}">'
            '<title id="{id}-title">{title}</title><desc id="{id}-desc">{desc}</desc>'
        ).format(id=element_id, w=WIDTH, h=HEIGHT, fs=FONT_SIZE, ink=INK, title=title, desc=description)
    ]
    parts.append(Markup('<g class="report-chart__grid">'))
    for cents in range(0, top + 1, step):
        y = TOP + plot_h - plot_h * cents / top
        parts.append(
            Markup(
                '<line x1="{x1}" x2="{x2}" y1="{y}" y2="{y}" stroke="{grid}" stroke-width="1"/>'
                '<text x="{tx}" y="{ty}" text-anchor="end">{label}</text>'
            ).format(
                x1=LEFT,
                x2=WIDTH - RIGHT,
                y=_n(y),
                grid=GRID,
                tx=LEFT - 6,
                ty=_n(y + FONT_SIZE / 3),
                label=_money(cents),
            )
        )
    parts.append(Markup("</g>"))
    slot = plot_w / len(days)
    gap = slot * 0.2 if len(days) <= 62 else 0  # separate bars while they are wide enough to show a gap
    parts.append(Markup('<g class="report-chart__bars" fill="{}">').format(BAR_COLOUR))
    for index, day in enumerate(days):
        height = plot_h * day.revenue_cents / top
        parts.append(
            Markup(
                '<rect class="report-chart__bar" x="{x}" y="{y}" width="{w}" height="{h}"><title>{t}</title></rect>'
            ).format(
                x=_n(LEFT + index * slot + gap / 2),
                y=_n(TOP + plot_h - height),
                w=_n(slot - gap),
                h=_n(height),
                t=f"{day.day.isoformat()}: {format_cents(day.revenue_cents)}",
            )
        )
    parts.append(Markup("</g>"))
    parts.append(
        Markup('<line x1="{x1}" x2="{x2}" y1="{y}" y2="{y}" stroke="{ink}" stroke-width="1"/>').format(
            x1=LEFT, x2=WIDTH - RIGHT, y=TOP + plot_h, ink=INK
        )
    )
    parts.append(Markup('<g class="report-chart__dates">'))
    for index in _label_positions(len(days)):
        anchor = "start" if index == 0 else "end" if index == len(days) - 1 else "middle"
        x = LEFT + index * slot + (0 if anchor == "start" else slot if anchor == "end" else slot / 2)
        parts.append(
            Markup('<text x="{x}" y="{y}" text-anchor="{a}">{label}</text>').format(
                x=_n(x), y=HEIGHT - BOTTOM + FONT_SIZE + 8, a=anchor, label=days[index].day.isoformat()
            )
        )
    parts.append(Markup("</g></svg>"))
    return Markup("").join(parts)


def _nice_step(most_cents: int) -> int:
    """A round gridline step (1, 2 or 5 times a power of ten dollars or cents) giving at most GRIDLINES steps."""
    scale = 1
    while True:
        for factor in (1, 2, 5):
            step = factor * scale
            if step * GRIDLINES >= most_cents:
                return step
        scale *= 10


def _label_positions(count: int) -> list[int]:
    """Which days get a date under the axis: evenly spaced, the first and the last always."""
    if count <= DATE_LABELS:
        return list(range(count)) if count <= 2 else [0, count - 1]
    return sorted({round(i * (count - 1) / (DATE_LABELS - 1)) for i in range(DATE_LABELS)})


def _money(cents: int) -> str:
    text = format_cents(cents)
    return text.removesuffix(".00")


def _n(value: float) -> str:
    """A coordinate with two decimals at most, short enough to keep a long range's chart small."""
    return f"{value:.2f}".rstrip("0").rstrip(".")
