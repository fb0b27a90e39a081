from datetime import date

from nianbao.deadlines import deadline, is_late, latest_due_year


def test_departments_and_townships_are_due_jan_31():
    assert deadline("department", 2024) == date(2025, 1, 31)
    assert deadline("township", 2024) == date(2025, 1, 31)


def test_governments_are_due_mar_31_and_unknown_levels_get_the_later_date():
    assert deadline("county", 2024) == date(2025, 3, 31)
    assert deadline("province", 2023) == date(2024, 3, 31)
    assert deadline(None, 2023) == date(2024, 3, 31)


def test_nothing_new_in_july_is_fine_but_last_year_is_expected():
    # In July 2025 the 2024 report is due for everyone, the 2025 report for nobody.
    assert latest_due_year("county", date(2025, 7, 15)) == 2024
    assert latest_due_year("department", date(2025, 7, 15)) == 2024


def test_between_the_two_deadlines_only_departments_owe_last_year():
    feb = date(2025, 2, 15)
    assert latest_due_year("department", feb) == 2024
    assert latest_due_year("county", feb) == 2023


def test_deadline_day_itself_is_not_late():
    assert latest_due_year("department", date(2025, 1, 31)) == 2023
    assert not is_late("department", 2024, date(2025, 1, 31), date(2025, 6, 1))
    assert is_late("department", 2024, date(2025, 2, 1), date(2025, 6, 1))


def test_unpublished_report_is_late_only_after_its_deadline():
    assert not is_late("county", 2024, None, date(2025, 3, 31))
    assert is_late("county", 2024, None, date(2025, 4, 1))
