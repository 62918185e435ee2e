from datetime import UTC, datetime, time
from zoneinfo import ZoneInfo

import pytest
from pydantic import ValidationError

from matching.schedule import (
    ScheduleIn,
    Window,
    load_zone,
    next_working_start,
    works_before,
)

CHICAGO = ZoneInfo("America/Chicago")
MEXICO_CITY = ZoneInfo("America/Mexico_City")
MON, TUE, SAT, SUN = 1, 2, 6, 7


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


def test_no_window_never_works() -> None:
    assert next_working_start([], MEXICO_CITY, utc(2026, 12, 7, 12)) is None
    assert not works_before([], MEXICO_CITY, utc(2026, 12, 7), utc(2027, 1, 7))


def test_inside_a_window_is_now() -> None:
    # Monday 2026-12-07 10:00 in Mexico City (UTC-6).
    at = utc(2026, 12, 7, 16)
    windows = [Window(MON, time(9), time(17))]

    assert next_working_start(windows, MEXICO_CITY, at) == at


def test_window_end_is_outside() -> None:
    windows = [Window(MON, time(9), time(17))]

    start = next_working_start(windows, MEXICO_CITY, utc(2026, 12, 7, 23))

    assert start == utc(2026, 12, 14, 15)


def test_before_a_window_is_its_start() -> None:
    windows = [Window(MON, time(9), time(17)), Window(MON, time(7), time(8))]

    start = next_working_start(windows, MEXICO_CITY, utc(2026, 12, 7, 12))

    assert start == utc(2026, 12, 7, 13)


def test_overnight_window_still_runs_the_next_morning() -> None:
    windows = [Window(MON, time(22), time(6))]
    tuesday_3am = utc(2026, 12, 8, 9)
    tuesday_7am = utc(2026, 12, 8, 13)

    assert next_working_start(windows, MEXICO_CITY, tuesday_3am) == tuesday_3am
    assert next_working_start(windows, MEXICO_CITY, tuesday_7am) == utc(2026, 12, 15, 4)


def test_sunday_overnight_window_runs_into_monday() -> None:
    windows = [Window(SUN, time(20), time(2))]
    monday_1am = utc(2026, 12, 7, 7)

    assert next_working_start(windows, MEXICO_CITY, monday_1am) == monday_1am


def test_start_in_skipped_hour_moves_later() -> None:
    # Clocks in Chicago went from 02:00 CST to 03:00 CDT on Sunday 2026-03-08.
    windows = [Window(SUN, time(2, 30), time(4))]

    start = next_working_start(windows, CHICAGO, utc(2026, 3, 8, 7))

    assert start == utc(2026, 3, 8, 8, 30)
    assert start.astimezone(CHICAGO).time() == time(3, 30)


def test_overnight_window_spring_change_shorter() -> None:
    windows = [Window(SAT, time(22), time(6))]
    start = next_working_start(windows, CHICAGO, utc(2026, 3, 7, 12))

    assert start == utc(2026, 3, 8, 4)
    # 06:00 CDT is 11:00 UTC: seven hours of work, not eight.
    assert next_working_start(windows, CHICAGO, utc(2026, 3, 8, 10, 59)) == utc(
        2026, 3, 8, 10, 59
    )
    assert next_working_start(windows, CHICAGO, utc(2026, 3, 8, 11)) == utc(
        2026, 3, 15, 3
    )


def test_start_in_repeated_hour_is_second() -> None:
    # Clocks in Chicago went from 02:00 CDT back to 01:00 CST on 2026-11-01.
    windows = [Window(SUN, time(1, 30), time(3))]

    start = next_working_start(windows, CHICAGO, utc(2026, 11, 1, 6))

    assert start == utc(2026, 11, 1, 7, 30)


def test_overnight_window_autumn_change_longer() -> None:
    windows = [Window(SAT, time(22), time(6))]
    # 05:30 CST on Sunday is 11:30 UTC, inside; 06:00 CST is 12:00 UTC.
    inside = utc(2026, 11, 1, 11, 30)

    assert next_working_start(windows, CHICAGO, inside) == inside
    assert next_working_start(windows, CHICAGO, utc(2026, 11, 1, 12)) == utc(
        2026, 11, 8, 4
    )


def test_works_before_compares_next_start() -> None:
    windows = [Window(MON, time(9), time(17))]
    now = utc(2026, 12, 7, 12)  # Monday 06:00 local, three hours before work.

    assert not works_before(windows, MEXICO_CITY, now, utc(2026, 12, 7, 15))
    assert works_before(windows, MEXICO_CITY, now, utc(2026, 12, 7, 15, 1))


def test_unknown_zone_names_the_zone() -> None:
    with pytest.raises(ValueError, match="Mars/Olympus"):
        load_zone("Mars/Olympus")


def _schedule(**fields: object) -> ScheduleIn:
    body = {"time_zone": "America/Mexico_City", "week": {}} | fields
    return ScheduleIn.model_validate(body)


def test_schedule_lists_windows_by_iso_weekday() -> None:
    schedule = _schedule(
        week={
            "monday": [{"start": "09:00", "end": "13:00"}],
            "sunday": [{"start": "22:00", "end": "02:00"}],
        }
    )

    assert schedule.windows() == [
        Window(MON, time(9), time(13)),
        Window(SUN, time(22), time(2)),
    ]


@pytest.mark.parametrize(
    ("fields", "problem"),
    [
        ({"time_zone": "Mexico City"}, "not an IANA time zone"),
        ({"week": {}}, "no working window"),
        ({"week": {"monday": []}}, "no working window"),
        ({"week": {"monday": [{"start": "09:00", "end": "09:00"}]}}, "empty"),
        ({"week": {"funday": [{"start": "09:00", "end": "10:00"}]}}, "funday"),
        (
            {
                "week": {
                    "monday": [
                        {"start": "09:00", "end": "13:00"},
                        {"start": "12:00", "end": "15:00"},
                    ]
                }
            },
            "overlapping",
        ),
        (
            {
                "week": {
                    "monday": [
                        {"start": "22:00", "end": "02:00"},
                        {"start": "23:00", "end": "23:30"},
                    ]
                }
            },
            "overlapping",
        ),
        ({"week": {"monday": [{"start": "25:00", "end": "26:00"}]}}, "start"),
    ],
)
def test_invalid_schedules_name_the_problem(
    fields: dict[str, object], problem: str
) -> None:
    with pytest.raises(ValidationError, match=problem):
        _schedule(
            **({"week": {"monday": [{"start": "09:00", "end": "10:00"}]}} | fields)
        )
