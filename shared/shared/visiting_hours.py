"""Legal visiting hours: when an agent may knock at a debtor's door.

A visit may start between 07:00 and 22:00 in the address's own time zone in
Mexico, and between 08:00 and 21:00 in the United States. A stricter window
(a campaign's `visiting_hours`) can narrow it, never widen it. The window is
half open: arriving at 07:00 is legal, arriving at 22:00 is not. A tenant
may also allow only some days of the week.

Matching uses these rules to decide whether an offer can still lead to a
legal arrival, and visits to judge a check-in. Everything here is pure, so
the rules can be tested without a clock or a database: the caller passes
the instants to check.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from enum import StrEnum
from functools import cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

# The tz database's zones for Mexico, with the old names that link to them.
MEXICO_ZONES = frozenset(
    {
        "America/Bahia_Banderas",
        "America/Cancun",
        "America/Chihuahua",
        "America/Ciudad_Juarez",
        "America/Ensenada",
        "America/Hermosillo",
        "America/Matamoros",
        "America/Mazatlan",
        "America/Merida",
        "America/Mexico_City",
        "America/Monterrey",
        "America/Ojinaga",
        "America/Santa_Isabel",
        "America/Tijuana",
        "Mexico/BajaNorte",
        "Mexico/BajaSur",
        "Mexico/General",
    }
)


class Weekday(StrEnum):
    """A day of the week, in the order of `datetime.weekday()`."""

    MONDAY = "monday"
    TUESDAY = "tuesday"
    WEDNESDAY = "wednesday"
    THURSDAY = "thursday"
    FRIDAY = "friday"
    SATURDAY = "saturday"
    SUNDAY = "sunday"

    @classmethod
    def of(cls, local: datetime) -> "Weekday":
        return list(cls)[local.weekday()]


@dataclass(frozen=True)
class Window:
    """Local times of day between which a visit may start: [start, end)."""

    start: time
    end: time

    def __post_init__(self) -> None:
        if not self.start < self.end:
            raise ValueError(f"a window must start before it ends: {self}")

    def contains(self, local: time) -> bool:
        return self.start <= local < self.end


MEXICO_WINDOW = Window(time(7), time(22))
UNITED_STATES_WINDOW = Window(time(8), time(21))


def legal_window(time_zone: str) -> Window:
    """Return the legal window of an address in `time_zone`.

    A zone outside Mexico gets the United States window, which is also the
    stricter of the two.
    """
    return MEXICO_WINDOW if time_zone in MEXICO_ZONES else UNITED_STATES_WINDOW


@cache
def _zone(name: str) -> ZoneInfo | None:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None


def address_zones(time_zone: str | None) -> tuple[str, ...]:
    """Return the zones an address must be checked in.

    The address's own zone when it is known and valid. Otherwise every zone of
    Mexico, so that a visit goes out only at an hour legal all over the
    country, whichever zone the address is in.
    """
    if time_zone is not None and _zone(time_zone) is not None:
        return (time_zone,)
    return tuple(sorted(z for z in MEXICO_ZONES if _zone(z) is not None))


def is_legal_arrival(
    arrival: datetime, time_zones: Sequence[str], stricter: Window | None = None
) -> bool:
    """Return whether an agent arriving at `arrival` may start the visit.

    The arrival must be inside the legal window, and inside `stricter` when
    given, in each of `time_zones`. Each zone reads its own local time on
    that day, so daylight saving time moves the window in UTC.
    """
    for name in time_zones:
        zone = _zone(name)
        if zone is None:
            raise ValueError(
                f"unknown time zone {name!r}: pass an IANA name such as "
                "'America/Mexico_City', or use address_zones to fall back"
            )
        local = arrival.astimezone(zone).time()
        if not legal_window(name).contains(local):
            return False
        if stricter is not None and not stricter.contains(local):
            return False
    return True


def may_offer(
    *,
    now: datetime,
    expires_at: datetime,
    travel: timedelta,
    time_zones: Sequence[str],
    stricter: Window | None = None,
    allowed_days: frozenset[Weekday] | None = None,
) -> bool:
    """Return whether an agent offered the visit now could arrive at a legal hour.

    The agent may set off at once, or as late as the offer's `expires_at`.
    The offer may be made when either arrival, `travel` later, is legal, on
    one of `allowed_days` (None allows every day).
    """
    return any(
        outside_hours(start + travel, time_zones, stricter, allowed_days) is None
        for start in (now, expires_at)
    )


@dataclass(frozen=True)
class OutsideHours:
    """Why an arrival is not allowed: the zone, its local time and the rule."""

    time_zone: str
    local: datetime
    window: Window
    reason: str


def outside_hours(
    arrival: datetime,
    time_zones: Sequence[str],
    stricter: Window | None = None,
    allowed_days: frozenset[Weekday] | None = None,
) -> OutsideHours | None:
    """Return why an agent arriving at `arrival` may not start the visit, or None.

    Like `is_legal_arrival`, and also rejects a local weekday outside
    `allowed_days` (None allows every day). The window named is the one
    that applies in the zone: the stricter one, cut to the legal hours.
    """
    for name in time_zones:
        zone = _zone(name)
        if zone is None:
            raise ValueError(f"unknown time zone {name!r}: pass an IANA name")
        local = arrival.astimezone(zone)
        window = _narrowed(legal_window(name), stricter)
        if window is None or not window.contains(local.time()):
            return OutsideHours(name, local, window or legal_window(name), "hours")
        if allowed_days is not None and Weekday.of(local) not in allowed_days:
            return OutsideHours(name, local, window, "day")
    return None


def _narrowed(legal: Window, stricter: Window | None) -> Window | None:
    """Return the part of `legal` inside `stricter`, or None when they do not meet."""
    if stricter is None:
        return legal
    start, end = max(legal.start, stricter.start), min(legal.end, stricter.end)
    return Window(start, end) if start < end else None


def _zone_intervals(
    name: str,
    first: datetime,
    last: datetime,
    stricter: Window | None,
    allowed_days: frozenset[Weekday] | None = None,
) -> list[tuple[datetime, datetime]]:
    """Return the zone's open windows, in UTC, on its local days first..last."""
    zone = _zone(name)
    if zone is None:
        raise ValueError(
            f"unknown time zone {name!r}: pass an IANA name such as "
            "'America/Mexico_City', or use address_zones to fall back"
        )
    window = legal_window(name)
    start, end = window.start, window.end
    if stricter is not None:
        start, end = max(start, stricter.start), min(end, stricter.end)
    if start >= end:
        return []
    day = first.astimezone(zone).date() - timedelta(days=1)
    last_day = last.astimezone(zone).date()
    intervals = []
    while day <= last_day:
        if (
            allowed_days is not None
            and list(Weekday)[day.weekday()] not in allowed_days
        ):
            day += timedelta(days=1)
            continue
        opens = datetime.combine(day, start, tzinfo=zone).astimezone(UTC)
        closes = datetime.combine(day, end, tzinfo=zone).astimezone(UTC)
        intervals.append((opens, closes))
        day += timedelta(days=1)
    return intervals


def _intersect(
    a: list[tuple[datetime, datetime]], b: list[tuple[datetime, datetime]]
) -> list[tuple[datetime, datetime]]:
    """Return where two sorted lists of disjoint intervals overlap."""
    both = []
    i = j = 0
    while i < len(a) and j < len(b):
        start, end = max(a[i][0], b[j][0]), min(a[i][1], b[j][1])
        if start < end:
            both.append((start, end))
        if a[i][1] < b[j][1]:
            i += 1
        else:
            j += 1
    return both


def open_time_end(
    start: datetime,
    wait: timedelta,
    *,
    until: datetime,
    time_zones: Sequence[str],
    stricter: Window | None = None,
    allowed_days: frozenset[Weekday] | None = None,
) -> datetime:
    """Return when `wait` of open visiting hours after `start` has passed.

    Time counts only while a visit may start in every one of `time_zones`,
    and inside `stricter` when given, on `allowed_days` only (None allows
    every day). An hour's wait that starts at 21:30 in
    Mexico City uses the half hour to 22:00 and ends at 07:30 the next
    morning. Returns `until` when that comes first.
    """
    intervals: list[tuple[datetime, datetime]] | None = None
    for name in time_zones:
        zone_intervals = _zone_intervals(name, start, until, stricter, allowed_days)
        intervals = (
            zone_intervals
            if intervals is None
            else _intersect(intervals, zone_intervals)
        )
    remaining = wait
    for opens, closes in intervals or []:
        opens = max(opens, start)
        if closes <= opens:
            continue
        if closes - opens >= remaining:
            return min(opens + remaining, until)
        remaining -= closes - opens
    return until
