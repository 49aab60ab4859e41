"""The date range of a report, checked the same way for the page and the API."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

MAX_DAYS = 3 * 366  # three years of days keeps a build well inside the task time limit
# No shop sold anything before this, and the chart's date axis cannot draw days
# near year 1: an earlier first day is a typo to point out, not a build to fail.
EARLIEST = date(1970, 1, 1)


class RangeError(ValueError):
    """What is wrong with a range, in words for the person who typed it; `field` names the culprit."""

    def __init__(self, message: str, field: str = "to"):
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class DateRange:
    """Whole UTC days, both ends included."""

    first: date
    last: date

    @property
    def days(self) -> int:
        return (self.last - self.first).days + 1

    def bounds(self) -> tuple[datetime, datetime]:
        """[start, end) as UTC instants, for comparing with timestamps."""
        start = datetime.combine(self.first, time.min, tzinfo=UTC)
        return start, start + timedelta(days=self.days)

    def each_day(self):
        return (self.first + timedelta(days=offset) for offset in range(self.days))


def checked_range(first: date | None, last: date | None, today: date | None = None) -> DateRange:
    """A DateRange, or RangeError saying what to fix."""
    if first is None:
        raise RangeError("Choose the first day of the report.", "from")
    if last is None:
        raise RangeError("Choose the last day of the report.", "to")
    if first > last:
        raise RangeError(f"The last day ({last.isoformat()}) is before the first ({first.isoformat()}); swap them.")
    if first < EARLIEST:
        raise RangeError(f"The first day must be {EARLIEST.isoformat()} or later.", "from")
    # One day of slack: "today" in a browser east of UTC is tomorrow here.
    latest = (today or datetime.now(UTC).date()) + timedelta(days=1)
    if first > latest:
        raise RangeError("The report starts in the future; sales reports cover days that have happened.", "from")
    span = DateRange(first, last)
    if span.days > MAX_DAYS:
        raise RangeError(f"A report covers at most {MAX_DAYS} days; this range has {span.days:,}.")
    return span
