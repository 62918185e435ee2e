"""Figures per agent, zone and day, and the agent leaderboard.

Days are calendar days in one IANA time zone: the request's `tz`, else the
zone of the tenant's country (America/Mexico_City for Mexico). A tenant
event carries no zone of its own, and one campaign's addresses may lie in
several zones, so a single zone per request keeps every day 24 hours long
for every visit.
"""

import functools
import uuid
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo, available_timezones

from sqlalchemy.ext.asyncio import AsyncSession

from reporting import breakdown_repository, repository
from reporting.breakdown_schemas import (
    AgentFigures,
    AgentFiguresList,
    DayFigures,
    DayFiguresList,
    Figures,
    Leaderboard,
    ZoneFigures,
    ZoneFiguresList,
)
from reporting.schemas import Percentiles
from shared.errors import NotFoundError, UnprocessableError

FALLBACK_CURRENCY = "MXN"
ZERO = Decimal("0.00")
COUNTRY_TIME_ZONES = {"MX": "America/Mexico_City", "US": "America/New_York"}
FALLBACK_TIME_ZONE = "UTC"
MAX_DAYS = 366
DEFAULT_DAYS = 31

# Most completed visits first, then the money promised, the contact rate and
# fewer rejections. The agent_id comes last, so equal agents keep their order.
LEADERBOARD_KEY = [
    "visits_completed desc",
    "promised_amount desc",
    "contact_rate desc",
    "visits_rejected asc",
    "agent_id asc",
]

COUNT_FIELDS = (
    "visits_requested",
    "visits_assigned",
    "visits_checked_in",
    "visits_visited",
    "visits_completed",
    "visits_rejected",
    "visits_out_of_coverage",
    "visits_expired",
    "visits_cancelled",
    "promises",
    "promises_kept",
    "promises_partly_kept",
    "promises_broken",
    "visits_flagged",
)


def rate(numerator: int, denominator: int) -> float | None:
    return None if denominator == 0 else numerator / denominator


def _int(row: Any, name: str) -> int:
    return int(getattr(row, name, 0) or 0)


def _percentiles(row: Any, name: str) -> Percentiles:
    def seconds(value: Any) -> float | None:
        return None if value is None else float(value)

    return Percentiles(
        p50=seconds(getattr(row, f"{name}_p50", None)),
        p90=seconds(getattr(row, f"{name}_p90", None)),
    )


def figures_from_row(row: Any, currency: str) -> dict[str, Any]:
    """Turn one aggregate row into the fields of `Figures`; a None row is all zero."""
    completed = _int(row, "visits_completed")
    contacts = _int(row, "contacts")
    return {
        "accounts": _int(row, "accounts_visited"),
        **{name: _int(row, name) for name in COUNT_FIELDS},
        "contact_rate": rate(contacts, completed),
        "located_rate": rate(_int(row, "located"), completed),
        "promise_rate": rate(_int(row, "promises_with_contact"), contacts),
        "promised_amount": getattr(row, "promised_amount", None) or ZERO,
        "kept_amount": getattr(row, "kept_amount", None) or ZERO,
        "currency": currency,
        "within_deadline_rate": rate(_int(row, "completed_within_deadline"), completed),
        "visited_within_72h_rate": rate(
            _int(row, "visited_within_window"), _int(row, "in_coverage")
        ),
        "time_to_assignment_seconds": _percentiles(row, "time_to_assignment"),
        "time_to_first_visit_seconds": _percentiles(row, "time_to_first_visit"),
    }


def leaderboard_order(agent: Figures | Any) -> tuple[Any, ...]:
    """Sort key of LEADERBOARD_KEY, for `sorted` in ascending order."""
    return (
        -agent.visits_completed,
        -agent.promised_amount,
        -(agent.contact_rate or 0.0),
        agent.visits_rejected,
        str(agent.agent_id),
    )


def parse_time_zone(value: str | None, country: str | None) -> str:
    """Return the zone of `tz`, else the country's; 422 for an unknown name."""
    if value is None or not value.strip():
        return COUNTRY_TIME_ZONES.get(country or "", FALLBACK_TIME_ZONE)
    name = value.strip()
    # The listed zones only: ZoneInfo also loads files such as posixrules,
    # which PostgreSQL need not know.
    if name not in _known_time_zones():
        raise UnprocessableError(
            f"unknown time zone {value!r} in 'tz'; send an IANA name such as "
            "America/Mexico_City, or leave it out for the tenant's country zone",
            location="query.tz",
        )
    return name


@functools.cache
def _known_time_zones() -> frozenset[str]:
    return frozenset(available_timezones())


def day_range(first: date | None, last: date | None, today: date) -> tuple[date, date]:
    """Fill the missing ends of a day range and check it; 422 when it is not one."""
    last = last or (first + timedelta(days=DEFAULT_DAYS - 1) if first else today)
    first = first or last - timedelta(days=DEFAULT_DAYS - 1)
    if first > last:
        raise UnprocessableError(
            f"'from' {first.isoformat()} is after 'to' {last.isoformat()}; "
            "swap them or leave one out",
            location="query.from",
        )
    if (last - first).days + 1 > MAX_DAYS:
        raise UnprocessableError(
            f"the range {first.isoformat()} to {last.isoformat()} spans "
            f"{(last - first).days + 1} days, more than {MAX_DAYS}; ask for a "
            "shorter range",
            location="query.to",
        )
    return first, last


def local_midnight(day: date, time_zone: str) -> datetime:
    return datetime.combine(day, time(0), ZoneInfo(time_zone)).astimezone(UTC)


async def _context(
    session: AsyncSession, tenant_id: uuid.UUID, tz: str | None = None
) -> tuple[str, str]:
    currency = await repository.tenant_currency(session, tenant_id)
    country = await breakdown_repository.tenant_country(session, tenant_id)
    return currency or FALLBACK_CURRENCY, parse_time_zone(tz, country)


async def _require_campaign(
    session: AsyncSession, tenant_id: uuid.UUID, campaign_id: uuid.UUID
) -> None:
    if not await breakdown_repository.campaign_known(session, tenant_id, campaign_id):
        raise NotFoundError(
            f"campaign {campaign_id} not found; list yours with GET /campaigns"
        )


def _agents(rows: Any, currency: str) -> list[AgentFigures]:
    agents = [
        AgentFigures(
            agent_id=row.agent_id,
            display_name=None,
            **figures_from_row(row, currency),
        )
        for row in rows
    ]
    return sorted(agents, key=leaderboard_order)


async def campaign_agents(
    session: AsyncSession, tenant_id: uuid.UUID, campaign_id: uuid.UUID
) -> AgentFiguresList:
    async with session.begin():
        await _require_campaign(session, tenant_id, campaign_id)
        currency, _ = await _context(session, tenant_id)
        rows = await breakdown_repository.figures_by_agent(
            session, tenant_id, campaign_id=campaign_id, currency=currency
        )
    return AgentFiguresList(campaign_id=campaign_id, agents=_agents(rows, currency))


def _zone(row: Any, level: str, currency: str) -> ZoneFigures:
    return ZoneFigures(
        state=getattr(row, "address_state", None),
        municipality=getattr(row, "municipality", None) if level != "state" else None,
        postal_code=getattr(row, "postal_code", None),
        **figures_from_row(row, currency),
    )


def _zone_order(zone: ZoneFigures) -> tuple[Any, ...]:
    names = (zone.state or "", zone.municipality or "", zone.postal_code or "")
    return (-zone.visits_requested, *names)


async def campaign_zones(
    session: AsyncSession, tenant_id: uuid.UUID, campaign_id: uuid.UUID, level: str
) -> ZoneFiguresList:
    async with session.begin():
        await _require_campaign(session, tenant_id, campaign_id)
        currency, _ = await _context(session, tenant_id)
        rows = await breakdown_repository.figures_by_zone(
            session, tenant_id, campaign_id, level=level, currency=currency
        )
    zones = [_zone(row, level, currency) for row in rows]
    zones.sort(key=_zone_order)
    return ZoneFiguresList(campaign_id=campaign_id, level=level, zones=zones)


async def campaign_days(
    session: AsyncSession,
    tenant_id: uuid.UUID,
    campaign_id: uuid.UUID,
    *,
    first: date | None,
    last: date | None,
    tz: str | None,
) -> DayFiguresList:
    async with session.begin():
        currency, time_zone = await _context(session, tenant_id, tz)
        today = datetime.now(ZoneInfo(time_zone)).date()
        first_day, last_day = day_range(first, last, today)
        await _require_campaign(session, tenant_id, campaign_id)
        rows = await breakdown_repository.figures_by_day(
            session,
            tenant_id,
            campaign_id,
            time_zone=time_zone,
            first_day=first_day,
            last_day=last_day,
            currency=currency,
        )
    days = [DayFigures(day=row.day, **figures_from_row(row, currency)) for row in rows]
    return DayFiguresList(campaign_id=campaign_id, time_zone=time_zone, days=days)


async def leaderboard(
    session: AsyncSession,
    tenant_id: uuid.UUID,
    *,
    campaign_id: uuid.UUID | None,
    first: date | None,
    last: date | None,
    tz: str | None,
    limit: int,
) -> Leaderboard:
    """Rank the agents of a campaign, or of every campaign, over a period.

    Without `from` and `to` the period is all time; with them each figure
    counts the events inside the local days from `from` to `to` included.
    """
    async with session.begin():
        currency, time_zone = await _context(session, tenant_id, tz)
        period = None
        if first is not None or last is not None:
            today = datetime.now(ZoneInfo(time_zone)).date()
            period = day_range(first, last, today)
        if campaign_id is not None:
            await _require_campaign(session, tenant_id, campaign_id)
        bounds = {}
        if period is not None:
            bounds = {
                "start": local_midnight(period[0], time_zone),
                "end": local_midnight(period[1] + timedelta(days=1), time_zone),
            }
        rows = await breakdown_repository.figures_by_agent(
            session, tenant_id, campaign_id=campaign_id, currency=currency, **bounds
        )
    return Leaderboard(
        campaign_id=campaign_id,
        time_zone=time_zone,
        first_day=period[0] if period else None,
        last_day=period[1] if period else None,
        sorted_by=LEADERBOARD_KEY,
        agents=_agents(rows, currency)[:limit],
    )
