"""A campaign's allowed weekdays bind offers and the day route, as at the door."""

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from matching.dispatch import Emit
from matching.models import VisitRequest
from matching.service import accept_visit_request
from matching.settings import MatchingSettings
from shared.events.payloads import DispatchMode, DispatchPolicy, VisitingHours
from shared.visiting_hours import Weekday
from tests.integration.matching.helpers import Region, bearer, register, visit_requested

Sessionmaker = async_sessionmaker[AsyncSession]
MEXICO_CITY = ZoneInfo("America/Mexico_City")
MONDAYS_ONLY = VisitingHours(start=time(9), end=time(18), allowed_days=[Weekday.MONDAY])


def _next(weekday: int, hour: int) -> datetime:
    """Return the next local `weekday` (0 is Monday) at `hour` in Mexico City."""
    today = datetime.now(MEXICO_CITY).date()
    day = today + timedelta(days=(weekday - today.weekday()) % 7 or 7)
    return datetime.combine(day, time(hour), tzinfo=MEXICO_CITY)


@pytest.mark.parametrize(
    ("weekday", "state"),
    [(0, "assigned"), (6, "pending")],
    ids=["monday", "sunday"],
)
async def test_assign_only_on_allowed_days(
    sessionmaker: Sessionmaker, region: Region, emit: Emit, weekday: int, state: str
) -> None:
    await register(sessionmaker, region.point(east_m=300))
    noon = _next(weekday, 12).astimezone(UTC)
    policy = DispatchPolicy(
        mode=DispatchMode.ASSIGN,
        max_wait_seconds=3 * 86400,
        visiting_hours=MONDAYS_ONLY,
    )
    request = visit_requested(
        region.point(), dispatch=policy, deadline=noon + timedelta(days=3)
    ).model_copy(update={"time_zone": "America/Mexico_City"})

    async with sessionmaker() as session, session.begin():
        await accept_visit_request(
            session,
            request,
            emit=emit,
            settings=MatchingSettings(batch_interval_seconds=0, visiting_hours=True),
            now=noon,
        )

    async with sessionmaker() as session:
        stored = await session.scalar(
            select(VisitRequest.state).where(VisitRequest.visit_id == request.visit_id)
        )
    # A Mondays-only visit waits through Sunday: visits would reject the
    # check-in then.
    assert stored == state


async def test_route_on_disallowed_day(
    matching: httpx.AsyncClient, sessionmaker: Sessionmaker, region: Region, emit: Emit
) -> None:
    agent = await register(sessionmaker, region.point(east_m=300))
    policy = DispatchPolicy(
        mode=DispatchMode.ASSIGN,
        max_wait_seconds=3 * 86400,
        visiting_hours=MONDAYS_ONLY,
    )
    sunday = _next(6, 12)
    request = visit_requested(
        region.point(), dispatch=policy, deadline=sunday + timedelta(days=5)
    ).model_copy(update={"time_zone": "America/Mexico_City"})
    async with sessionmaker() as session, session.begin():
        await accept_visit_request(
            session,
            request,
            emit=emit,
            settings=MatchingSettings(batch_interval_seconds=0, visiting_hours=False),
        )

    response = await matching.get(
        "/agents/me/route",
        params={"date": sunday.date().isoformat()},
        headers=bearer(agent.token),
    )

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["stops"] == [], f"planned on a Sunday: {body['stops']}"
    assert [m["reason"] for m in body["not_today"]] == ["outside_hours"]
