from datetime import UTC, date, datetime

import pytest

from visits.promises import is_broken, last_day_to_pay

DUE = date(2026, 3, 10)


def test_last_day_adds_the_grace() -> None:
    assert last_day_to_pay(DUE, 3) == date(2026, 3, 13)
    assert last_day_to_pay(DUE, 0) == DUE


@pytest.mark.parametrize(
    ("now", "broken"),
    [
        # 23:59 on the last day in Mexico City (UTC-6) is 05:59 UTC the next day.
        (datetime(2026, 3, 14, 5, 59, tzinfo=UTC), False),
        (datetime(2026, 3, 14, 6, 0, tzinfo=UTC), True),
    ],
)
def test_broken_after_last_local_day(now: datetime, broken: bool) -> None:
    assert is_broken(DUE, 3, now, "America/Mexico_City") is broken


def test_unknown_zone_waits_for_mexico() -> None:
    # Midnight in Mexico City is still 23:00 of the last day in Tijuana (UTC-7
    # with daylight saving time in March).
    now = datetime(2026, 3, 14, 6, 0, tzinfo=UTC)
    assert not is_broken(DUE, 3, now, None)
    assert not is_broken(DUE, 3, now, "Not/AZone")
    assert is_broken(DUE, 3, datetime(2026, 3, 14, 8, 0, tzinfo=UTC), None)


def test_zero_grace_breaks_next_day() -> None:
    assert is_broken(DUE, 0, datetime(2026, 3, 11, 12, tzinfo=UTC), "America/Cancun")
    assert not is_broken(
        DUE, 0, datetime(2026, 3, 10, 12, tzinfo=UTC), "America/Cancun"
    )
