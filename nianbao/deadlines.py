"""When a body's annual report is due, so a quiet source is judged by the calendar, not by silence.

条例 art. 49–50 and the national template: county-and-above government departments (and townships,
which report like county departments) publish last year's report by **Jan 31**; governments at
county level and above publish their own report by **Mar 31** (the template's earlier Feb 20 / Mar 10
dates are for summaries sent upwards, not for publication). State Council ministries are government
departments and fall under Jan 31.
"""

from __future__ import annotations

from datetime import date

DEPARTMENT_LEVELS = frozenset({"department", "township", "ministry"})


def deadline(level: str | None, report_year: int) -> date:
    """The publication deadline of the report for `report_year`; unknown levels get the later date."""
    if level in DEPARTMENT_LEVELS:
        return date(report_year + 1, 1, 31)
    return date(report_year + 1, 3, 31)


def latest_due_year(level: str | None, today: date) -> int:
    """The most recent report year whose deadline has passed on `today`."""
    year = today.year - 1
    return year if today > deadline(level, year) else year - 1


def is_late(level: str | None, report_year: int, published: date | None, today: date) -> bool:
    """Late = published after the deadline, or still unpublished once the deadline has passed."""
    due = deadline(level, report_year)
    if published is not None:
        return published > due
    return today > due
