"""Check-ins at the door: visiting hours in the address's zone and the weekly limit."""

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import httpx
import pytest
from sqlalchemy import update

from ingest.tenants import CreatedTenant
from shared.events.payloads import DispatchPolicy, VisitingHours
from shared.visiting_hours import Weekday
from tests.integration.visits.helpers import (
    Sessionmaker,
    assigned_visit,
    check_in_body,
    result_body,
    tenant_headers,
    visit_row,
)
from visits.models import CheckIn
from visits.settings import VisitsSettings


@pytest.fixture
def hours_enforced(visits: httpx.AsyncClient) -> Iterator[None]:
    """Turn the visiting-hours rule on in the running app for one test.

    The suite runs with the rule off, because tests run at any hour.
    """
    transport = visits._transport
    assert isinstance(transport, httpx.ASGITransport)
    runtime = transport.app.state.runtime  # type: ignore[attr-defined]
    settings: VisitsSettings = runtime.settings
    runtime.settings = settings.model_copy(update={"visiting_hours": True})
    try:
        yield
    finally:
        runtime.settings = settings


def latest_local(zone: str, at: time, *, weekday: Weekday | None = None) -> datetime:
    """Return the latest past instant, at least an hour ago, showing `at` in `zone`.

    It lies within the late-sync limit, so only the hours rule can refuse it.
    """
    tz = ZoneInfo(zone)
    latest = datetime.now(UTC) - timedelta(hours=1)
    day = latest.astimezone(tz).date()
    for back in range(8):
        candidate = datetime.combine(day - timedelta(days=back), at, tzinfo=tz)
        if candidate > latest:
            continue
        if weekday is None or Weekday.of(candidate) == weekday:
            return candidate.astimezone(UTC)
    raise AssertionError(f"no past {weekday} at {at} in {zone} within a week")


async def check_in_at(
    visits: httpx.AsyncClient, moment: datetime, **request: object
) -> httpx.Response:
    agent_visit = await assigned_visit(visits, **request)  # type: ignore[arg-type]
    return await visits.post(
        f"{agent_visit.path}/check-in",
        json=check_in_body(device_time=moment.isoformat()),
        headers=agent_visit.headers,
    )


def detail(response: httpx.Response) -> str:
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    errors = response.json()["errors"]
    assert [error["location"] for error in errors] == ["body.device_time"]
    return str(errors[0]["message"])


@pytest.mark.usefixtures("hours_enforced")
class TestVisitingHours:
    @pytest.mark.parametrize(
        "zone",
        [
            "America/Mexico_City",
            "America/Cancun",
            "America/Hermosillo",
            "America/Tijuana",
            "America/Ciudad_Juarez",
        ],
    )
    async def test_mexican_zone_allows_noon_and_refuses_dawn(
        self, visits: httpx.AsyncClient, zone: str
    ) -> None:
        noon = await check_in_at(visits, latest_local(zone, time(12)), time_zone=zone)
        assert noon.status_code == 201, noon.text
        dawn = await check_in_at(
            visits, latest_local(zone, time(6, 30)), time_zone=zone
        )
        message = detail(dawn)
        assert "07:00 to 22:00" in message
        assert f"06:30 local time in {zone}" in message

    async def test_el_paso_keeps_united_states_hours(
        self, visits: httpx.AsyncClient
    ) -> None:
        """Across the river from Ciudad Juárez, 07:30 is still too early."""
        zone = "America/Denver"
        juarez = await check_in_at(
            visits,
            latest_local("America/Ciudad_Juarez", time(7, 30)),
            time_zone="America/Ciudad_Juarez",
        )
        assert juarez.status_code == 201, juarez.text
        el_paso = await check_in_at(
            visits, latest_local(zone, time(7, 30)), time_zone=zone
        )
        assert "08:00 to 21:00" in detail(el_paso)
        late_morning = await check_in_at(
            visits, latest_local(zone, time(8, 30)), time_zone=zone
        )
        assert late_morning.status_code == 201, late_morning.text

    async def test_stricter_campaign_window(self, visits: httpx.AsyncClient) -> None:
        zone = "America/Mexico_City"
        office = DispatchPolicy(
            visiting_hours=VisitingHours(start=time(9), end=time(18))
        )
        inside = await check_in_at(
            visits, latest_local(zone, time(10)), time_zone=zone, dispatch=office
        )
        assert inside.status_code == 201, inside.text
        evening = await check_in_at(
            visits, latest_local(zone, time(19)), time_zone=zone, dispatch=office
        )
        message = detail(evening)
        assert "09:00 to 18:00" in message
        assert "19:00 local time" in message

    async def test_disallowed_weekday(self, visits: httpx.AsyncClient) -> None:
        """The day before is allowed, the day of the check-in is not."""
        zone = "America/Monterrey"
        noon = latest_local(zone, time(12))
        banned = Weekday.of(noon.astimezone(ZoneInfo(zone)))
        weekdays = DispatchPolicy(
            visiting_hours=VisitingHours(
                start=time(7),
                end=time(22),
                allowed_days=[day for day in Weekday if day != banned],
            )
        )
        refused = await check_in_at(visits, noon, time_zone=zone, dispatch=weekdays)
        message = detail(refused)
        assert banned.value.capitalize() in message
        assert banned.value not in message.split("allowed:")[1]
        day_before = noon - timedelta(days=1)
        allowed = await check_in_at(
            visits, day_before, time_zone=zone, dispatch=weekdays
        )
        assert allowed.status_code == 201, allowed.text

    async def test_refused_check_in_leaves_the_visit_assigned(
        self, visits: httpx.AsyncClient, sessionmaker: Sessionmaker
    ) -> None:
        zone = "America/Tijuana"
        agent_visit = await assigned_visit(visits, time_zone=zone)
        response = await visits.post(
            f"{agent_visit.path}/check-in",
            json=check_in_body(device_time=latest_local(zone, time(23)).isoformat()),
            headers=agent_visit.headers,
        )
        assert response.status_code == 422, response.text
        row = await visit_row(sessionmaker, agent_visit.request.visit_id)
        assert row is not None
        assert row.state == "assigned"
        assert row.time_zone == zone

    async def test_completed_visit_answers_409_at_any_hour(
        self, visits: httpx.AsyncClient
    ) -> None:
        zone = "America/Mexico_City"
        agent_visit = await assigned_visit(visits, time_zone=zone)
        noon = latest_local(zone, time(12)).isoformat()
        checked_in = await visits.post(
            f"{agent_visit.path}/check-in",
            json=check_in_body(device_time=noon),
            headers=agent_visit.headers,
        )
        assert checked_in.status_code == 201, checked_in.text
        result = await visits.post(
            f"{agent_visit.path}/result",
            json=result_body(device_time=noon),
            headers=agent_visit.headers,
        )
        assert result.status_code == 201, result.text
        night = latest_local(zone, time(23)).isoformat()
        again = await visits.post(
            f"{agent_visit.path}/check-in",
            json=check_in_body(device_time=night),
            headers=agent_visit.headers,
        )
        assert again.status_code == 409, again.text
        assert again.json()["current_state"] == "completed"

    async def test_unknown_zone_needs_hours_legal_all_over_mexico(
        self, visits: httpx.AsyncClient
    ) -> None:
        """06:30 in Hermosillo is already 07:30 in Mexico City."""
        early = latest_local("America/Hermosillo", time(6, 30))
        refused = await check_in_at(visits, early, time_zone=None)
        assert "07:00 to 22:00" in detail(refused)
        noon = latest_local("America/Mexico_City", time(13))
        allowed = await check_in_at(visits, noon, time_zone=None)
        assert allowed.status_code == 201, allowed.text


async def set_weekly_limit(
    visits: httpx.AsyncClient, tenant: CreatedTenant, limit: int | None
) -> None:
    response = await visits.put(
        "/settings/visit-rules",
        json={"max_visits_per_account_week": limit},
        headers=tenant_headers(tenant),
    )
    assert response.status_code == 200, response.text
    assert response.json() == {
        "max_visits_per_account_week": limit,
        "promise_grace_days": 3,
    }


class TestWeeklyLimit:
    async def test_over_limit_names_earlier_dates(
        self, visits: httpx.AsyncClient, tenant: CreatedTenant
    ) -> None:
        await set_weekly_limit(visits, tenant, 2)
        account_id = uuid.uuid4()
        zone = "America/Mexico_City"
        moments = [datetime.now(UTC) - timedelta(hours=h) for h in (50, 26, 1)]
        for moment in moments[:2]:
            first = await check_in_at(
                visits,
                moment,
                tenant_id=tenant.tenant_id,
                account_id=account_id,
                time_zone=zone,
            )
            assert first.status_code == 201, first.text
        third = await check_in_at(
            visits,
            moments[2],
            tenant_id=tenant.tenant_id,
            account_id=account_id,
            time_zone=zone,
        )
        message = detail(third)
        assert "at most 2 a week" in message
        for moment in moments[:2]:
            assert f"{moment.astimezone(ZoneInfo(zone)):%Y-%m-%d %H:%M}" in message
        await set_weekly_limit(visits, tenant, None)

    async def test_counts_same_account_past_week(
        self,
        visits: httpx.AsyncClient,
        tenant: CreatedTenant,
        sessionmaker: Sessionmaker,
    ) -> None:
        """The week is the 7 days before the check-in's device time."""
        await set_weekly_limit(visits, tenant, 1)
        account_id = uuid.uuid4()
        now = datetime.now(UTC)
        first = await assigned_visit(visits, tenant.tenant_id, account_id=account_id)
        response = await visits.post(
            f"{first.path}/check-in",
            json=check_in_body(device_time=(now - timedelta(hours=2)).isoformat()),
            headers=first.headers,
        )
        assert response.status_code == 201, response.text
        other_account = await check_in_at(visits, now, tenant_id=tenant.tenant_id)
        assert other_account.status_code == 201, other_account.text

        second = await assigned_visit(visits, tenant.tenant_id, account_id=account_id)
        refused = await visits.post(
            f"{second.path}/check-in", json=check_in_body(), headers=second.headers
        )
        assert "at most 1 a week" in detail(refused)

        # Once the first visit is 8 days old it no longer counts.
        async with sessionmaker() as session, session.begin():
            await session.execute(
                update(CheckIn)
                .where(CheckIn.visit_id == first.request.visit_id)
                .values(device_time=now - timedelta(days=8))
            )
        allowed = await visits.post(
            f"{second.path}/check-in", json=check_in_body(), headers=second.headers
        )
        assert allowed.status_code == 201, allowed.text
        await set_weekly_limit(visits, tenant, None)

    async def test_second_fix_not_counted(
        self, visits: httpx.AsyncClient, tenant: CreatedTenant
    ) -> None:
        await set_weekly_limit(visits, tenant, 1)
        agent_visit = await assigned_visit(visits, tenant.tenant_id)
        for _ in range(2):
            response = await visits.post(
                f"{agent_visit.path}/check-in",
                json=check_in_body(),
                headers=agent_visit.headers,
            )
            assert response.status_code == 201, response.text
        await set_weekly_limit(visits, tenant, None)

    @pytest.mark.parametrize("limit", [0, True, "1", 1.5, "one"])
    async def test_settings_reject_a_bad_limit(
        self, visits: httpx.AsyncClient, tenant: CreatedTenant, limit: object
    ) -> None:
        response = await visits.put(
            "/settings/visit-rules",
            json={"max_visits_per_account_week": limit},
            headers=tenant_headers(tenant),
        )
        assert response.status_code == 422
        [error] = response.json()["errors"]
        assert error["location"] == "body.max_visits_per_account_week"

    async def test_settings_need_the_tenant_key(
        self, visits: httpx.AsyncClient
    ) -> None:
        response = await visits.get("/settings/visit-rules")
        assert response.status_code == 401

    async def test_settings_are_per_tenant(
        self,
        visits: httpx.AsyncClient,
        tenant: CreatedTenant,
        other_tenant: CreatedTenant,
    ) -> None:
        await set_weekly_limit(visits, tenant, 3)
        other = await visits.get(
            "/settings/visit-rules", headers=tenant_headers(other_tenant)
        )
        assert other.json() == {
            "max_visits_per_account_week": None,
            "promise_grace_days": 3,
        }
        await set_weekly_limit(visits, tenant, None)
