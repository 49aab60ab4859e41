"""The admin report's SVG chart: well-formed, one bar per day, every text escaped, and words when nothing sold."""

from __future__ import annotations

from datetime import date, timedelta
from xml.etree import ElementTree

from blasto.reports.building import Totals
from blasto.reports.ranges import DateRange
from blasto.reports.rendering import days_csv
from blasto.reports.svg_chart import DaySales, days_from_csv, revenue_chart

SVG = "{http://www.w3.org/2000/svg}"


def march(revenues: list[int]) -> list[DaySales]:
    return [DaySales(date(2024, 3, 1) + timedelta(days=i), 1, 1, cents) for i, cents in enumerate(revenues)]


def parsed(days: list[DaySales], **kwargs) -> ElementTree.Element:
    return ElementTree.fromstring(str(revenue_chart(days, **kwargs)))


def test_the_chart_is_well_formed_svg_that_scales_to_its_column_and_names_itself():
    svg = parsed(march([1199, 0, 3597]))
    assert svg.tag == f"{SVG}svg"
    assert svg.get("role") == "img" and svg.get("width") == "100%" and svg.get("height") is None
    assert svg.get("viewBox") == "0 0 480 260"
    assert svg.get("aria-labelledby") == "report-chart-title" and svg.get("aria-describedby") == "report-chart-desc"
    assert svg.findtext(f"{SVG}title") == "Revenue per day, 2024-03-01 to 2024-03-03"
    assert svg.findtext(f"{SVG}desc") == (
        "Bar chart of 3 days: $47.96 in all; the best day was 2024-03-03 with $35.97. "
        "The table below lists the same figures day by day."
    )
    assert not [element for element in svg.iter() if element.get("style") is not None], "the CSP allows no inline style"
    assert not svg.findall(f".//{SVG}script")


def test_there_is_one_bar_per_day_and_the_tallest_is_the_best_day():
    revenues = [(i * 737) % 5000 for i in range(90)]
    bars = parsed(march(revenues)).findall(f".//{SVG}rect[@class='report-chart__bar']")
    assert len(bars) == 90
    heights = [float(bar.get("height", "nan")) for bar in bars]
    assert heights.index(max(heights)) == revenues.index(max(revenues))
    assert heights[0] == 0 and all(height >= 0 for height in heights)
    assert bars[1].findtext(f"{SVG}title") == "2024-03-02: $7.37"


def test_a_three_year_range_still_draws_every_day_inside_the_plot():
    days = [DaySales(date(2021, 1, 1) + timedelta(days=i), 1, 1, 100 + i) for i in range(3 * 366)]
    svg = parsed(days)
    bars = svg.findall(f".//{SVG}rect[@class='report-chart__bar']")
    assert len(bars) == len(days)
    right_edge = float(bars[-1].get("x", "nan")) + float(bars[-1].get("width", "nan"))
    assert right_edge <= 480
    dates = [text.text for text in svg.iterfind(f".//{SVG}g[@class='report-chart__dates']/{SVG}text")]
    assert dates[0] == "2021-01-01" and dates[-1] == days[-1].day.isoformat() and len(dates) == 4


def test_the_axis_labels_are_round_money_and_the_gridlines_cover_the_best_day():
    svg = parsed(march([100_00, 2_345_67, 0]))
    labels = [text.text for text in svg.iterfind(f".//{SVG}g[@class='report-chart__grid']/{SVG}text")]
    assert labels == ["$0", "$1,000", "$2,000", "$3,000"]


def test_every_text_in_the_chart_is_escaped():
    hostile = 'chart"><script>alert(1)</script>&'
    markup = str(revenue_chart(march([500]), element_id=hostile))
    assert "<script>" not in markup and "&lt;script&gt;" in markup
    svg = ElementTree.fromstring(markup)
    assert svg.get("id") == hostile and svg.find(f"{SVG}title").get("id") == f"{hostile}-title"


def test_a_report_without_sales_says_so_instead_of_drawing_an_empty_chart():
    for days in (march([0, 0, 0]), []):
        markup = str(revenue_chart(days))
        assert "<svg" not in markup and "rect" not in markup
        sentence = ElementTree.fromstring(markup)
        assert sentence.tag == "p" and sentence.text == "No sales in this range."


def test_the_days_are_read_back_from_the_reports_own_csv():
    totals = Totals()
    totals.add(1, date(2024, 3, 2), 7, 3, 1199)
    totals.add(2, date(2024, 3, 2), 7, 2, 61_723_39)
    written = days_csv(DateRange(date(2024, 3, 1), date(2024, 3, 3)), totals)
    assert days_from_csv(written) == [
        DaySales(date(2024, 3, 1), 0, 0, 0),
        DaySales(date(2024, 3, 2), 2, 5, 3 * 1199 + 2 * 61_723_39),
        DaySales(date(2024, 3, 3), 0, 0, 0),
    ]
