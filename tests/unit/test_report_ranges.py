"""The date range of a report: checked the same way for the page and the API."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from blasto.reports.ranges import (
    EARLIEST,
    MAX_DAYS,
    DateRange,
    RangeError,
    checked_range,
)

TODAY = date(2026, 11, 21)


def check(first, last, today=TODAY):
    return checked_range(first, last, today=today)


@pytest.mark.parametrize(
    ("first", "last", "field", "words"),
    [
        (None, date(2026, 1, 1), "from", "first day"),
        (None, None, "from", "first day"),
        (date(2026, 1, 1), None, "to", "last day"),
    ],
)
def test_a_missing_end_is_named(first, last, field, words):
    with pytest.raises(RangeError) as raised:
        check(first, last)
    assert raised.value.field == field
    assert words in str(raised.value)


def test_an_inverted_range_says_to_swap_the_days():
    with pytest.raises(RangeError) as raised:
        check(date(2026, 3, 2), date(2026, 3, 1))
    assert raised.value.field == "to"
    message = str(raised.value)
    assert "2026-03-01" in message and "2026-03-02" in message and "swap" in message


def test_max_days_is_allowed_and_one_more_is_not():
    first = date(2020, 1, 1)
    assert check(first, first + timedelta(days=MAX_DAYS - 1)).days == MAX_DAYS
    with pytest.raises(RangeError) as raised:
        check(first, first + timedelta(days=MAX_DAYS))
    assert raised.value.field == "to"
    assert str(MAX_DAYS) in str(raised.value) and f"{MAX_DAYS + 1:,}" in str(raised.value)


def test_a_range_starting_in_the_future_is_refused_with_one_day_of_slack():
    assert check(TODAY, TODAY).days == 1
    tomorrow = TODAY + timedelta(days=1)
    assert check(tomorrow, tomorrow).first == tomorrow  # "today" east of UTC
    with pytest.raises(RangeError) as raised:
        check(TODAY + timedelta(days=2), TODAY + timedelta(days=3))
    assert raised.value.field == "from" and "future" in str(raised.value)


def test_a_range_starting_before_1970_is_refused_as_a_typo():
    assert check(EARLIEST, EARLIEST + timedelta(days=30)).first == date(1970, 1, 1)
    for first in (date(1, 1, 1), date(1969, 12, 31)):
        with pytest.raises(RangeError) as raised:
            check(first, first + timedelta(days=3))
        assert raised.value.field == "from" and "1970-01-01 or later" in str(raised.value)


def test_without_a_today_the_utc_date_is_used():
    today = datetime.now(UTC).date()
    assert checked_range(today, today).days == 1
    with pytest.raises(RangeError):
        checked_range(today + timedelta(days=2), today + timedelta(days=2))


def test_range_error_is_a_value_error_with_a_default_field():
    error = RangeError("nope")
    assert isinstance(error, ValueError) and error.field == "to"


def test_a_single_day_range():
    span = check(date(2024, 2, 29), date(2024, 2, 29))
    assert span == DateRange(date(2024, 2, 29), date(2024, 2, 29))
    assert span.days == 1 and list(span.each_day()) == [date(2024, 2, 29)]


def test_bounds_are_half_open_utc_instants():
    span = check(date(2024, 2, 28), date(2024, 3, 1))
    start, end = span.bounds()
    assert start == datetime(2024, 2, 28, tzinfo=UTC)
    assert end == datetime(2024, 3, 2, tzinfo=UTC)
    assert start.utcoffset() == timedelta(0) and end.utcoffset() == timedelta(0)
    assert span.days == 3  # a leap day in between
    assert list(span.each_day()) == [date(2024, 2, 28), date(2024, 2, 29), date(2024, 3, 1)]
    last_instant = datetime(2024, 3, 1, 23, 59, 59, 999999, tzinfo=UTC)
    assert start <= last_instant < end


def test_bounds_cross_a_year_end():
    start, end = DateRange(date(2025, 12, 31), date(2025, 12, 31)).bounds()
    assert (start, end) == (datetime(2025, 12, 31, tzinfo=UTC), datetime(2026, 1, 1, tzinfo=UTC))
