"""Agents' weekly working hours, and when an agent next works.

A schedule is a time zone and, for each weekday, zero or more windows
[start, end) in local time. A window whose end is not after its start runs
overnight and ends on the next day. Local times are read as PostgreSQL
reads them, so that Python and the SQL function
`matching.agent_works_between` agree: a time in the hour skipped when
clocks go forward is read with the offset before the change (02:30 becomes
03:30), and a time that occurs twice when clocks go back is its second
occurrence, in standard time.
"""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from itertools import pairwise
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, field_validator, model_validator

from shared.schemas import RequestModel

MAX_WINDOWS_PER_DAY = 6


class Weekday(StrEnum):
    MONDAY = "monday"
    TUESDAY = "tuesday"
    WEDNESDAY = "wednesday"
    THURSDAY = "thursday"
    FRIDAY = "friday"
    SATURDAY = "saturday"
    SUNDAY = "sunday"

    @property
    def iso(self) -> int:
        """1 for Monday to 7 for Sunday, as `isoweekday` and `isodow` count."""
        return list(Weekday).index(self) + 1


@dataclass(frozen=True)
class Window:
    """One working window: `weekday` 1 (Monday) to 7, local [start, end)."""

    weekday: int
    start: time
    end: time

    @property
    def overnight(self) -> bool:
        return self.end <= self.start


def load_zone(name: str) -> ZoneInfo:
    """Return the IANA time zone `name`, or raise ValueError that names it."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as error:
        raise ValueError(
            f"invalid time_zone {name!r}: not an IANA time zone name. Use one "
            "such as America/Mexico_City"
        ) from error


def _local(day: date, at: time, zone: ZoneInfo) -> datetime:
    """Return the local `day` at `at` in UTC, the later reading when two exist."""
    naive = datetime.combine(day, at)
    return max(naive.replace(tzinfo=zone, fold=fold).astimezone(UTC) for fold in (0, 1))


def _occurrences(
    windows: Iterable[Window], zone: ZoneInfo, first: date, last: date
) -> Iterable[tuple[datetime, datetime]]:
    """Yield each window's [start, end) in UTC on the local days first..last."""
    day = first
    while day <= last:
        for window in windows:
            if window.weekday != day.isoweekday():
                continue
            end_day = day + timedelta(days=1) if window.overnight else day
            yield _local(day, window.start, zone), _local(end_day, window.end, zone)
        day += timedelta(days=1)


def next_working_start(
    windows: Iterable[Window], zone: ZoneInfo, at: datetime
) -> datetime | None:
    """Return `at` when the agent works then, else the start of the next window.

    None when the schedule has no window at all. `at` must be aware.
    """
    windows = list(windows)
    if not windows:
        return None
    today = at.astimezone(zone).date()
    # Yesterday's overnight window may still run, and eight days cover a week.
    best: datetime | None = None
    for start, end in _occurrences(
        windows, zone, today - timedelta(days=1), today + timedelta(days=8)
    ):
        if start <= at < end:
            return at
        if start >= at and (best is None or start < best):
            best = start
    return best


def windows_on(
    windows: Iterable[Window], zone: ZoneInfo, day: date
) -> list[tuple[datetime, datetime]]:
    """Return the [start, end) in UTC of each window that starts on local `day`."""
    return sorted(_occurrences(windows, zone, day, day))


def works_before(
    windows: Iterable[Window], zone: ZoneInfo, now: datetime, deadline: datetime
) -> bool:
    """Tell whether the agent works now or starts a window before `deadline`."""
    start = next_working_start(windows, zone, now)
    return start is not None and start < deadline


class WindowIn(RequestModel):
    start: time = Field(description="Local time the window opens, e.g. 09:00.")
    end: time = Field(
        description="Local time it closes. Not after `start` means the next day."
    )

    @model_validator(mode="after")
    def _check(self) -> "WindowIn":
        if self.start.tzinfo is not None or self.end.tzinfo is not None:
            raise ValueError("start and end are local times: leave out the offset")
        if self.start == self.end:
            raise ValueError(
                f"window {self.start:%H:%M} to {self.end:%H:%M} is empty: end "
                "must differ from start"
            )
        return self


class ScheduleIn(RequestModel):
    """The agent's working week, replacing any schedule set before."""

    time_zone: str = Field(
        description="IANA time zone the hours are read in, e.g. America/Mexico_City."
    )
    week: dict[Weekday, list[WindowIn]] = Field(
        description="Windows per weekday; a day left out or empty is a day off."
    )

    @field_validator("time_zone")
    @classmethod
    def _check_zone(cls, value: str) -> str:
        load_zone(value)
        return value

    @field_validator("week")
    @classmethod
    def _check_week(
        cls, value: dict[Weekday, list[WindowIn]]
    ) -> dict[Weekday, list[WindowIn]]:
        if not any(value.values()):
            raise ValueError(
                "week has no working window; to stop getting offers set the "
                "status to offline instead"
            )
        for day, windows in value.items():
            if len(windows) > MAX_WINDOWS_PER_DAY:
                raise ValueError(
                    f"{day} has {len(windows)} windows; at most "
                    f"{MAX_WINDOWS_PER_DAY} a day"
                )
            same_day = sorted(
                (w.start, w.end if w.end > w.start else time.max) for w in windows
            )
            for (_, end), (start, _) in pairwise(same_day):
                if start < end:
                    raise ValueError(f"{day} has overlapping windows")
        return value

    def windows(self) -> list[Window]:
        return [
            Window(weekday=day.iso, start=w.start, end=w.end)
            for day, windows in self.week.items()
            for w in windows
        ]
