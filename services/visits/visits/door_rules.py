"""Rules a check-in must pass before the agent may knock: hours and the weekly limit.

Both judge the check-in's device time, bounded by the server's receipt,
in the address's own time zone.
"""

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from shared.visiting_hours import (
    OutsideHours,
    Weekday,
    Window,
    address_zones,
    outside_hours,
)
from visits.rules import FieldError, field_error

# The weekly limit counts the visits checked in during the 7 days before.
WEEK = timedelta(days=7)
# Dates of an address with no known zone are shown in central Mexico's time.
UNKNOWN_ZONE_SHOWN = "America/Mexico_City"


def judged_time(device_time: datetime, received_at: datetime) -> datetime:
    """Return the time a check-in is judged at: the device's, never after receipt."""
    return min(device_time, received_at)


def check_visiting_hours(
    judged: datetime,
    *,
    time_zone: str | None,
    start: time | None,
    end: time | None,
    days: list[str] | None,
) -> list[FieldError]:
    """Reject a check-in outside the legal window or the campaign's stricter one."""
    stricter = Window(start, end) if start is not None and end is not None else None
    allowed = None if days is None else frozenset(Weekday(day) for day in days)
    refusal = outside_hours(judged, address_zones(time_zone), stricter, allowed)
    if refusal is None:
        return []
    return [
        field_error(
            "body.device_time", _hours_message(refusal, allowed), judged.isoformat()
        )
    ]


def _hours_message(refusal: OutsideHours, allowed: frozenset[Weekday] | None) -> str:
    local = refusal.local
    window = f"{refusal.window.start:%H:%M} to {refusal.window.end:%H:%M}"
    when = f"{local:%A %Y-%m-%d %H:%M} local time in {refusal.time_zone}"
    if refusal.reason == "day" and allowed is not None:
        days = ", ".join(day.value for day in Weekday if day in allowed)
        return (
            f"the check-in at {when} falls on a day the campaign does not allow "
            f"for visits (allowed: {days}); come back on an allowed day, {window}"
        )
    return (
        f"the check-in at {when} is outside the visiting hours {window} that apply "
        "at this address; come back within those hours"
    )


def check_weekly_limit(
    earlier: list[datetime], *, limit: int | None, time_zone: str | None
) -> list[FieldError]:
    """Reject a first check-in when the account had `limit` visits in the past 7 days.

    `earlier` contains the first check-in times of the account's other visits
    in that week; the dates shown are local to the address.
    """
    if limit is None or len(earlier) < limit:
        return []
    zones = address_zones(time_zone)
    zone = ZoneInfo(zones[0] if len(zones) == 1 else UNKNOWN_ZONE_SHOWN)
    dates = ", ".join(f"{moment.astimezone(zone):%Y-%m-%d %H:%M}" for moment in earlier)
    message = (
        f"this account already had {len(earlier)} visits in the 7 days before this "
        f"check-in ({dates}, local time), and the tenant allows at most {limit} a "
        "week; check in again once the oldest of them is 7 days old"
    )
    return [field_error("body.device_time", message, limit)]
