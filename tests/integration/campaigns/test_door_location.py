"""A verified check-in places a coarsely geocoded account at its door, in ingest."""

import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select, update

from ingest.accounts.observed import on_location_observed
from ingest.models import Account, AccountHistory
from ingest.tenants import CreatedTenant
from shared.events.payloads import AccountLocationObserved, GeoPoint, LocationPrecision
from tests.fixtures.apps import eventually
from tests.fixtures.portfolios import account_row, xlsx_bytes
from tests.fixtures.tenants import make_tenant
from tests.integration.campaigns.helpers import (
    LaunchedVisit,
    Services,
    Sessionmaker,
    accept_offer,
    campaign_body,
    campaign_visit_ids,
    wait_for_visit,
)
from tests.integration.matching.helpers import new_region, register
from tests.integration.visits.helpers import offset


async def upload_account(
    services: Services,
    tenant: CreatedTenant,
    where: GeoPoint | None,
    key: str | None = None,
) -> str:
    key = key or f"G-{uuid.uuid4().hex[:8]}"
    lat, lon = (where.lat, where.lon) if where else (None, None)
    content = xlsx_bytes([account_row(key, lat=lat, lon=lon)])
    uploaded = await services.ingest.post(
        "/uploads",
        headers={"X-API-Key": tenant.api_key.key},
        files={"file": ("cartera.xlsx", content)},
    )
    assert uploaded.status_code == 201, uploaded.text
    return key


async def place_coarsely(
    sessionmaker: Sessionmaker, tenant: CreatedTenant, key: str
) -> None:
    """Mark the uploaded point as a town's centre, as the gazetteer places one."""
    async with sessionmaker() as session, session.begin():
        await session.execute(
            update(Account)
            .where(Account.tenant_id == tenant.tenant_id, Account.account_key == key)
            .values(location_precision="locality", location_source="gazetteer")
        )


async def launch(services: Services, tenant: CreatedTenant, key: str) -> str:
    headers = {"X-API-Key": tenant.api_key.key}
    created = await services.ingest.post(
        "/campaigns", headers=headers, json=campaign_body(account_keys=[key])
    )
    assert created.status_code == 201, created.text
    campaign_id = created.json()["campaign_id"]
    launched = await services.ingest.post(
        f"/campaigns/{campaign_id}/launch", headers=headers
    )
    assert launched.status_code == 200, launched.text
    return campaign_id


async def coarse_visit(
    services: Services, sessionmaker: Sessionmaker, tenant: CreatedTenant
) -> LaunchedVisit:
    where = new_region().point()
    key = await upload_account(services, tenant, where)
    await place_coarsely(sessionmaker, tenant, key)
    agent = await register(sessionmaker, where, daily_capacity=1)
    campaign_id = await launch(services, tenant, key)
    [visit_id] = await campaign_visit_ids(sessionmaker, campaign_id)
    visit = LaunchedVisit(tenant, campaign_id, key, visit_id, agent.agent_id, where)
    await accept_offer(services, visit.agent_headers, visit_id)
    await wait_for_visit(sessionmaker, visit_id, "assigned")
    return visit


async def account_json(services: Services, visit: LaunchedVisit) -> dict[str, Any]:
    response = await services.ingest.get(
        f"/accounts/{visit.account_key}", headers=visit.headers
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def history_of(sessionmaker: Sessionmaker, account_id: str) -> list[Any]:
    async with sessionmaker() as session:
        rows = await session.scalars(
            select(AccountHistory.changes)
            .where(AccountHistory.account_id == uuid.UUID(account_id))
            .order_by(AccountHistory.id)
        )
        return list(rows)


async def redeliver(
    sessionmaker: Sessionmaker, payload: AccountLocationObserved
) -> None:
    async with sessionmaker() as session, session.begin():
        await on_location_observed(session, None, payload)  # type: ignore[arg-type]


class TestCoarseGeocodeImproved:
    async def test_check_in_at_the_door_places_the_account_for_later_visits(
        self, services: Services, sessionmaker: Sessionmaker
    ) -> None:
        visit = await coarse_visit(services, sessionmaker, await make_tenant())
        door = offset(visit.where, north_m=3_000)

        checked_in = await services.visits.post(
            f"/agent/visits/{visit.visit_id}/check-in",
            headers=visit.agent_headers,
            json={
                "lat": door.lat,
                "lon": door.lon,
                "accuracy_m": 15,
                "device_time": datetime.now(UTC).isoformat(),
            },
        )

        assert checked_in.status_code == 201, checked_in.text
        assert checked_in.json()["verified"] is True

        async def placed() -> dict[str, Any] | None:
            account = await account_json(services, visit)
            return account if account["location_precision"] == "visit" else None

        account = await eventually(placed, message="account placed at the door")
        assert account["location_source"] == "visit"
        assert account["location"] == {"lat": door.lat, "lon": door.lon}
        assert account["location_accuracy_m"] == 15
        assert account["location_visit_id"] == str(visit.visit_id)
        [change] = await history_of(sessionmaker, account["account_id"])
        assert change["location_precision"] == {"old": "locality", "new": "visit"}

        later_campaign = await launch(services, visit.tenant, visit.account_key)
        [later_id] = await campaign_visit_ids(sessionmaker, later_campaign)
        later = await wait_for_visit(sessionmaker, later_id, "requested")
        assert later.location_precision == "visit"
        assert later.location_accuracy_m == 15

    async def test_redelivery_and_a_worse_fix_change_nothing(
        self, services: Services, sessionmaker: Sessionmaker
    ) -> None:
        tenant = await make_tenant()
        centroid = new_region().point()
        key = await upload_account(services, tenant, centroid)
        await place_coarsely(sessionmaker, tenant, key)
        response = await services.ingest.get(
            f"/accounts/{key}", headers={"X-API-Key": tenant.api_key.key}
        )
        account_id = response.json()["account_id"]
        first = observation(tenant, account_id, centroid, accuracy_m=10.0)

        await redeliver(sessionmaker, first)
        await redeliver(sessionmaker, first)
        await redeliver(
            sessionmaker,
            observation(tenant, account_id, first.location, accuracy_m=30.0),
        )

        [change] = await history_of(sessionmaker, account_id)
        assert change["location_visit_id"]["new"] == str(first.visit_id)
        async with sessionmaker() as session:
            stored = await session.get(Account, uuid.UUID(account_id))
        assert stored is not None
        assert stored.location_accuracy_m == 10.0
        assert stored.location_visit_id == first.visit_id

    async def test_creditor_coordinates_never_replaced(
        self, services: Services, sessionmaker: Sessionmaker
    ) -> None:
        tenant = await make_tenant()
        where = new_region().point()
        key = await upload_account(services, tenant, where)
        response = await services.ingest.get(
            f"/accounts/{key}", headers={"X-API-Key": tenant.api_key.key}
        )
        account = response.json()
        assert account["location_source"] == "file"
        assert account["location_precision"] == "rooftop"

        await redeliver(
            sessionmaker,
            observation(tenant, account["account_id"], where, accuracy_m=3.0),
        )

        assert await history_of(sessionmaker, account["account_id"]) == []


def observation(
    tenant: CreatedTenant, account_id: str, geocoded: GeoPoint, *, accuracy_m: float
) -> AccountLocationObserved:
    now = datetime.now(UTC)
    return AccountLocationObserved(
        tenant_id=tenant.tenant_id,
        visit_id=uuid.uuid4(),
        campaign_id=uuid.uuid4(),
        account_id=uuid.UUID(account_id),
        agent_id=uuid.uuid4(),
        check_in_id=uuid.uuid4(),
        location=offset(geocoded, north_m=1_500),
        accuracy_m=accuracy_m,
        geocoded_location=geocoded,
        geocoded_precision=LocationPrecision.LOCALITY,
        checked_in_at=now,
        device_time=now,
    )


class TestUploadAfterVisit:
    async def test_same_address_keeps_the_door_file_point_replaces_it(
        self, services: Services, sessionmaker: Sessionmaker
    ) -> None:
        tenant = await make_tenant()
        headers = {"X-API-Key": tenant.api_key.key}
        centroid = new_region().point()
        key = await upload_account(services, tenant, centroid)
        await place_coarsely(sessionmaker, tenant, key)
        response = await services.ingest.get(f"/accounts/{key}", headers=headers)
        observed = observation(
            tenant, response.json()["account_id"], centroid, accuracy_m=10.0
        )
        await redeliver(sessionmaker, observed)

        await upload_account(services, tenant, None, key)
        kept = (await services.ingest.get(f"/accounts/{key}", headers=headers)).json()
        creditor_point = new_region().point()
        await upload_account(services, tenant, creditor_point, key)
        replaced = await services.ingest.get(f"/accounts/{key}", headers=headers)

        assert kept["location_precision"] == "visit"
        assert kept["location"] == observed.location.model_dump()
        assert replaced.json()["location_source"] == "file"
        assert replaced.json()["location"] == creditor_point.model_dump()
        assert replaced.json()["location_visit_id"] is None
