"""The rules a visit's candidates are found by, and the day their load counts on.

`repository.find_candidates` applies these rules in one query. This module
decides them from the visit request, the dispatch mode, the clock and the
settings, so that the query contains no policy of its own.

- Staff first: until the request's `marketplace_from`, only agents employed by
  the visit's tenant are candidates. After it, platform agents are too, and
  all of them are ranked alike: staff had the visit to themselves for the
  whole delay, and after it the visit's deadline matters more than who
  employs the agent.
- Travel limit: an agent must reach the address within the global
  `max_travel_minutes`, or the campaign's when it is shorter, at the speed of
  its mode over the straight line, as ranking measures travel.
- Location: an agent's last known location replaces its base for distance
  and travel when it is recent and accurate enough. Coverage is still judged
  from the base, since that is where the agent agreed to work.
- Online or scheduled: in `assign` mode an offline agent who is scheduled to
  work before the deadline and before its check-in is due
  (`MATCHING_CHECK_IN_WITHIN_HOURS` from now) may be assigned. Offers and
  broadcasts need an agent online now, because an offer runs out in minutes.
- Load day: capacity counts visits per local day of the agent's time zone.
  An agent with no schedule has no zone, so `MATCHING_DEFAULT_AGENT_TIME_ZONE`
  is used for all its visits alike: one instant then falls on one day
  whatever zone each visit's address is in.

NOTE: an offline agent assigned in `assign` mode takes capacity on its local
day at the time of assignment, even when its next shift starts the day
after. Counting it on the shift's day would need the shift's start from the
query.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import Row

from matching.models import TravelMode
from matching.settings import MatchingSettings
from shared.events.payloads import DispatchMode


@dataclass(frozen=True)
class CandidateRules:
    """The filters of `repository.find_candidates`, besides coverage and offers.

    `reach_m` is the farthest distance per travel mode. `location_fresh_since`
    is the time of the oldest last location used, None to always use the base.
    """

    now: datetime
    fallback_zone: str
    staff_only: bool
    offline_if_scheduled: bool
    reach_m: Mapping[str, float]
    location_fresh_since: datetime | None
    location_max_accuracy_m: float
    check_in_within: timedelta | None = None
    """An offline agent must start work within this long, or by the deadline
    when sooner, to check in before the lapse pass takes the visit back."""


def candidate_rules(
    request: Row[Any], *, now: datetime, settings: MatchingSettings
) -> CandidateRules:
    """Return the rules for the locked `request` dispatched at `now`."""
    fresh = timedelta(minutes=settings.location_fresh_minutes)
    return CandidateRules(
        now=now,
        fallback_zone=settings.default_agent_time_zone,
        staff_only=staff_only(request, now),
        offline_if_scheduled=request.dispatch_mode == DispatchMode.ASSIGN,
        reach_m=reach_m(settings, request.max_travel_minutes),
        location_fresh_since=now - fresh if fresh else None,
        location_max_accuracy_m=settings.location_max_accuracy_m,
        check_in_within=timedelta(hours=settings.check_in_within_hours),
    )


def staff_only(request: Row[Any], now: datetime) -> bool:
    """Tell whether only the tenant's own agents may take the visit at `now`."""
    return request.marketplace_from is not None and now < request.marketplace_from


def reach_m(
    settings: MatchingSettings, campaign_minutes: int | None = None
) -> dict[str, float]:
    """Return the farthest straight-line distance per travel mode, in meters."""
    minutes = settings.max_travel_minutes
    if campaign_minutes is not None:
        minutes = min(minutes, campaign_minutes)
    return {
        mode.value: minutes
        * getattr(settings, f"rank_{mode.value}_speed_kmh")
        * 1000
        / 60
        for mode in TravelMode
    }


def valid_zone(name: str | None) -> str | None:
    """Return `name` when zoneinfo finds the time zone, else None."""
    if name is None:
        return None
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None
    return name


def local_day(now: datetime, agent_zone: str | None, default_zone: str) -> date:
    """Return the agent's local day at `now`, whose capacity a visit takes.

    The agent's zone, else `default_zone` (`MATCHING_DEFAULT_AGENT_TIME_ZONE`):
    the same choice as the candidate search makes in SQL.
    """
    zone = valid_zone(agent_zone) or default_zone
    return now.astimezone(ZoneInfo(zone)).date()


def assignment_day(assignment: Row[Any]) -> date:
    """Return the day whose capacity the assignment took, to give it back.

    `assignment` needs `load_day` and `assigned_at`. Assignments made before
    the load day was stored took the UTC day of their assignment.
    """
    if assignment.load_day is not None:
        return assignment.load_day
    return assignment.assigned_at.astimezone(UTC).date()
