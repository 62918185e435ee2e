"""Photo evidence, fraud signals and the director's review, end to end in visits."""

import asyncio
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select, update

from ingest.tenants import CreatedTenant
from shared.events.payloads import (
    AssignmentCreated,
    AssignmentReleased,
    ReleaseReason,
)
from tests.fixtures.apps import eventually
from tests.fixtures.events import publish
from tests.fixtures.photos import HEIC_HEADER, make_image
from tests.integration.visits.helpers import (
    ZOCALO,
    AssignedVisit,
    Sessionmaker,
    agent_headers,
    assigned_visit,
    check_in_body,
    event_types,
    offset,
    result_body,
    tenant_headers,
    visit_events,
    visit_row,
    wait_for_state,
)
from visits.models import Photo, Visit
from visits.photo_store import STORE_KEY, LocalPhotoStore


@pytest.fixture
def store(visits: httpx.AsyncClient, tmp_path: Path) -> Iterator[LocalPhotoStore]:
    """Point the running app's photo store at a fresh directory."""
    runtime = visits._transport.app.state.runtime  # type: ignore[attr-defined]
    store = LocalPhotoStore(tmp_path)
    previous = runtime.state.get(STORE_KEY)
    runtime.state[STORE_KEY] = store
    yield store
    runtime.state[STORE_KEY] = previous


def stored_files(store: LocalPhotoStore) -> list[Path]:
    return [path for path in store.root.rglob("*") if path.is_file()]


async def upload(
    client: httpx.AsyncClient, visit: AssignedVisit, data: bytes, **params: Any
) -> httpx.Response:
    return await client.post(
        f"{visit.path}/photos",
        content=data,
        headers={**visit.headers, "Content-Type": "image/jpeg"},
        params=params,
    )


async def check_in(
    client: httpx.AsyncClient, visit: AssignedVisit, **body: Any
) -> None:
    response = await client.post(
        f"{visit.path}/check-in", json=check_in_body(**body), headers=visit.headers
    )
    assert response.status_code == 201, response.text


async def file_result(
    client: httpx.AsyncClient, visit: AssignedVisit, **body: Any
) -> httpx.Response:
    return await client.post(
        f"{visit.path}/result",
        json=result_body(**body),
        headers=visit.headers,
    )


def minutes_ago(minutes: float) -> str:
    return (datetime.now(UTC) - timedelta(minutes=minutes)).isoformat()


async def honest_visit(
    client: httpx.AsyncClient, tenant: CreatedTenant, **photo: Any
) -> tuple[AssignedVisit, dict[str, Any]]:
    """A visit checked in at the door ten minutes ago, with one photo, completed."""
    visit = await assigned_visit(client, tenant.tenant_id)
    await check_in(client, visit, device_time=minutes_ago(10))
    uploaded = await upload(client, visit, make_image(**photo))
    assert uploaded.status_code == 201, uploaded.text
    filed = await file_result(client, visit, photo_ids=[uploaded.json()["photo_id"]])
    assert filed.status_code == 201, filed.text
    return visit, uploaded.json()


async def detail(
    client: httpx.AsyncClient, tenant: CreatedTenant, visit: AssignedVisit
) -> dict[str, Any]:
    response = await client.get(
        f"/visits/{visit.request.visit_id}", headers=tenant_headers(tenant)
    )
    assert response.status_code == 200, response.text
    return response.json()


class TestPhotoUpload:
    async def test_photo_stored_once_by_hash(
        self, visits: httpx.AsyncClient, store: LocalPhotoStore
    ) -> None:
        visit = await assigned_visit(visits)
        data = make_image(taken_at=datetime(2026, 12, 4, 10, 0), offset="-06:00")
        first = await upload(visits, visit, data)
        again = await upload(visits, visit, data)
        assert first.status_code == 201, first.text
        assert again.status_code == 200, again.text
        assert again.json()["photo_id"] == first.json()["photo_id"]
        assert first.json()["taken_at"].startswith("2026-12-04T16:00:00")
        [path] = stored_files(store)
        assert path.name == first.json()["sha256"]
        assert path.read_bytes() == data

    @pytest.mark.parametrize(
        ("offset", "device_time"),
        [("-06:00", None), (None, "2026-12-04T10:00:00-06:00")],
        ids=["exif-offset", "device-offset"],
    )
    async def test_exif_time_past_calendar_end_kept_without_time(
        self,
        visits: httpx.AsyncClient,
        store: LocalPhotoStore,
        offset: str | None,
        device_time: str | None,
    ) -> None:
        visit = await assigned_visit(visits)
        data = make_image(taken_at=datetime(9999, 12, 31, 23, 0), offset=offset)
        params = {"device_time": device_time} if device_time else {}
        response = await upload(visits, visit, data, **params)
        assert response.status_code == 201, response.text
        assert response.json()["taken_at"] is None
        assert [path.name for path in stored_files(store)] == [
            response.json()["sha256"]
        ]

    async def test_same_bytes_on_two_visits_kept_once(
        self, visits: httpx.AsyncClient, store: LocalPhotoStore
    ) -> None:
        data = make_image(colour=(1, 2, 3))
        for _ in range(2):
            visit = await assigned_visit(visits)
            assert (await upload(visits, visit, data)).status_code == 201
        assert len(stored_files(store)) == 1

    async def test_too_big_rejected_with_413(
        self, visits: httpx.AsyncClient, store: LocalPhotoStore
    ) -> None:
        visit = await assigned_visit(visits)
        limit = visits._transport.app.state.runtime.settings.photo_max_bytes  # type: ignore[attr-defined]
        response = await upload(visits, visit, b"\xff\xd8\xff" + b"\x00" * limit)
        assert response.status_code == 413
        assert response.json()["max_bytes"] == limit
        assert stored_files(store) == []

    async def test_type_judged_from_bytes_not_header(
        self, visits: httpx.AsyncClient, store: LocalPhotoStore
    ) -> None:
        visit = await assigned_visit(visits)
        response = await upload(visits, visit, b"%PDF-1.7\n" + b"x" * 200)
        assert response.status_code == 422
        assert response.headers["content-type"] == "application/problem+json"
        assert "not an accepted image" in response.json()["detail"]
        assert stored_files(store) == []

    async def test_garbage_scan_data_rejected(
        self, visits: httpx.AsyncClient, store: LocalPhotoStore
    ) -> None:
        image = make_image(size=(640, 480))
        start_of_scan = image.index(b"\xff\xda")
        data = image[: start_of_scan + 20] + b"\x13\x37" * 3000
        visit = await assigned_visit(visits)
        response = await upload(visits, visit, data)
        assert response.status_code == 422, response.text
        assert response.json()["type"].endswith("unsupported-image")
        assert stored_files(store) == []

    async def test_pixels_over_setting_rejected(
        self, visits: httpx.AsyncClient, store: LocalPhotoStore
    ) -> None:
        runtime = visits._transport.app.state.runtime  # type: ignore[attr-defined]
        settings = runtime.settings
        runtime.settings = settings.model_copy(update={"photo_max_pixels": 1200})
        try:
            visit = await assigned_visit(visits)
            small = await upload(visits, visit, make_image(size=(40, 30)))
            large = await upload(visits, visit, make_image(size=(41, 30)))
        finally:
            runtime.settings = settings
        assert small.status_code == 201, small.text
        assert large.status_code == 422, large.text
        assert "VISITS_PHOTO_MAX_PIXELS" in large.json()["detail"]
        assert large.json()["max_pixels"] == 1200

    async def test_other_agent_gets_404(
        self, visits: httpx.AsyncClient, store: LocalPhotoStore
    ) -> None:
        visit = await assigned_visit(visits)
        response = await visits.post(
            f"{visit.path}/photos",
            content=make_image(),
            headers=agent_headers(uuid.uuid4()),
        )
        assert response.status_code == 404

    async def test_no_upload_after_the_result(
        self,
        visits: httpx.AsyncClient,
        store: LocalPhotoStore,
        tenant: CreatedTenant,
    ) -> None:
        visit, _ = await honest_visit(visits, tenant)
        response = await upload(visits, visit, make_image(colour=(9, 9, 9)))
        assert response.status_code == 409
        assert response.json()["current_state"] == "completed"

    async def test_upload_racing_the_result_refused(
        self,
        visits: httpx.AsyncClient,
        sessionmaker: Sessionmaker,
        tmp_path: Path,
    ) -> None:
        """The state is checked again once the bytes are stored."""
        runtime = visits._transport.app.state.runtime  # type: ignore[attr-defined]
        release = asyncio.Event()
        entered = asyncio.Event()

        class SlowStore(LocalPhotoStore):
            async def put(self, *args: Any, **kwargs: Any) -> None:
                entered.set()
                await release.wait()
                await super().put(*args, **kwargs)

        previous = runtime.state.get(STORE_KEY)
        runtime.state[STORE_KEY] = SlowStore(tmp_path)
        try:
            visit = await assigned_visit(visits)
            await check_in(visits, visit, device_time=minutes_ago(10))
            pending = asyncio.create_task(upload(visits, visit, make_image()))
            await asyncio.wait_for(entered.wait(), 10)
            filed = await file_result(visits, visit)
            release.set()
            response = await pending
        finally:
            runtime.state[STORE_KEY] = previous
        assert filed.status_code == 201, filed.text
        assert response.status_code == 409, response.text
        assert response.json()["current_state"] == "completed"
        async with sessionmaker() as session:
            photos = await session.scalars(
                select(Photo).where(Photo.visit_id == visit.request.visit_id)
            )
            assert photos.all() == []

    async def test_result_citing_unknown_photo_rejected(
        self, visits: httpx.AsyncClient, store: LocalPhotoStore
    ) -> None:
        visit = await assigned_visit(visits)
        await check_in(visits, visit)
        response = await file_result(visits, visit, photo_ids=[str(uuid.uuid4())])
        assert response.status_code == 422
        assert (await visit_row_state(visits, visit)) == "checked_in"


async def visit_row_state(client: httpx.AsyncClient, visit: AssignedVisit) -> str:
    response = await client.get(visit.path, headers=visit.headers)
    return str(response.json()["state"])


class TestTenantPhoto:
    async def test_tenant_reads_photo_and_other_tenant_gets_404(
        self,
        visits: httpx.AsyncClient,
        store: LocalPhotoStore,
        tenant: CreatedTenant,
        other_tenant: CreatedTenant,
    ) -> None:
        visit, photo = await honest_visit(visits, tenant)
        path = f"/visits/{visit.request.visit_id}/photos/{photo['photo_id']}"
        own = await visits.get(path, headers=tenant_headers(tenant))
        assert own.status_code == 200
        assert own.headers["content-type"] == "image/jpeg"
        assert own.headers["x-content-type-options"] == "nosniff"
        assert own.content == (store.path_of(photo["sha256"])).read_bytes()
        other = await visits.get(path, headers=tenant_headers(other_tenant))
        assert other.status_code == 404
        found = await detail(visits, tenant, visit)
        assert [p["photo_id"] for p in found["photos"]] == [photo["photo_id"]]
        assert found["photos"][0]["result_id"] == found["result"]["result_id"]

    async def test_heic_with_markup_served_as_heic(
        self, visits: httpx.AsyncClient, store: LocalPhotoStore, tenant: CreatedTenant
    ) -> None:
        visit = await assigned_visit(visits, tenant.tenant_id)
        markup = HEIC_HEADER[:16] + b"<html><script>alert(1)</script></html>"
        uploaded = await upload(visits, visit, markup)
        assert uploaded.status_code == 201, uploaded.text
        served = await visits.get(
            f"/visits/{visit.request.visit_id}/photos/{uploaded.json()['photo_id']}",
            headers=tenant_headers(tenant),
        )
        assert served.headers["content-type"] == "image/heic"
        assert served.headers["x-content-type-options"] == "nosniff"
        assert "sandbox" in served.headers["content-security-policy"]


class TestSignals:
    async def test_honest_visit_not_flagged(
        self,
        visits: httpx.AsyncClient,
        store: LocalPhotoStore,
        tenant: CreatedTenant,
        sessionmaker: Sessionmaker,
    ) -> None:
        visit, _ = await honest_visit(visits, tenant, colour=(10, 200, 10))
        fraud = (await detail(visits, tenant, visit))["fraud"]
        assert fraud["flagged"] is False
        assert [s["name"] for s in fraud["signals"] if s["fired"]] == []
        completed = [
            e
            for e in await visit_events(sessionmaker, visit.request.visit_id)
            if e.type == "campo.visit.completed"
        ]
        assert completed[0].data["flagged"] is False

    async def test_faked_visit_flagged_with_each_signal(
        self,
        visits: httpx.AsyncClient,
        store: LocalPhotoStore,
        tenant: CreatedTenant,
        sessionmaker: Sessionmaker,
    ) -> None:
        agent_id = uuid.uuid4()
        reused = make_image(colour=(7, 7, 7))
        first = await assigned_visit(visits, tenant.tenant_id, agent_id=agent_id)
        await check_in(visits, first, device_time=minutes_ago(20))
        assert (await upload(visits, first, reused)).status_code == 201

        # From the first door to one 40 km away, a minute later, mocked.
        faked = await assigned_visit(visits, tenant.tenant_id, agent_id=agent_id)
        far = offset(ZOCALO, north_m=40_000)
        await check_in(
            visits,
            faked,
            lat=far.lat,
            lon=far.lon,
            accuracy_m=900,
            mock_location=True,
            device_time=minutes_ago(19),
        )
        photo = await upload(
            visits,
            faked,
            reused,
        )
        assert photo.status_code == 201

        filed = await file_result(
            visits,
            faked,
            device_time=minutes_ago(18.5),
            photo_ids=[photo.json()["photo_id"]],
        )
        assert filed.status_code == 201, filed.text
        fraud = (await detail(visits, tenant, faked))["fraud"]
        fired = {s["name"] for s in fraud["signals"] if s["fired"]}
        assert fired >= {
            "distance_from_address",
            "gps_accuracy",
            "time_on_site",
            "travel_speed",
            "mock_location",
            "reused_photo",
        }
        assert fraud["flagged"] is True
        assert fraud["score"] == 1.0

        listed = await visits.get(
            "/visits", params={"flagged": "true"}, headers=tenant_headers(tenant)
        )
        ids = [item["visit_id"] for item in listed.json()["items"]]
        assert str(faked.request.visit_id) in ids
        assert str(first.request.visit_id) not in ids
        events = await visit_events(sessionmaker, faked.request.visit_id)
        [completed] = [e for e in events if e.type == "campo.visit.completed"]
        assert completed.data["flagged"] is True

    async def test_exif_far_from_check_in_fires_photo_signals(
        self, visits: httpx.AsyncClient, store: LocalPhotoStore, tenant: CreatedTenant
    ) -> None:
        old = datetime.now(UTC) - timedelta(days=2)
        visit, _ = await honest_visit(
            visits,
            tenant,
            colour=(50, 60, 70),
            taken_at=old.replace(tzinfo=None),
            offset="+00:00",
            position=(20.6597, -103.3496),
        )
        fraud = (await detail(visits, tenant, visit))["fraud"]
        fired = {s["name"] for s in fraud["signals"] if s["fired"]}
        assert {"photo_time_gap", "photo_distance"} <= fired

    async def test_same_bytes_in_other_tenant_counted_without_ids(
        self,
        visits: httpx.AsyncClient,
        store: LocalPhotoStore,
        tenant: CreatedTenant,
        other_tenant: CreatedTenant,
    ) -> None:
        data = make_image(colour=(7, 7, uuid.uuid4().int % 256), size=(40, 30))
        first, first_photo = await honest_visit_with(visits, tenant, data)
        second, _ = await honest_visit_with(visits, other_tenant, data)
        shown = await visits.get(
            f"/visits/{second.request.visit_id}",
            headers=tenant_headers(other_tenant),
        )
        assert shown.status_code == 200, shown.text
        assert str(first.request.visit_id) not in shown.text
        assert first_photo["photo_id"] not in shown.text
        signals = {s["name"]: s for s in shown.json()["fraud"]["signals"]}
        assert signals["reused_photo"]["fired"] is True


async def honest_visit_with(
    client: httpx.AsyncClient, tenant: CreatedTenant, data: bytes
) -> tuple[AssignedVisit, dict[str, Any]]:
    """A visit checked in ten minutes ago and completed citing a photo of `data`."""
    visit = await assigned_visit(client, tenant.tenant_id)
    await check_in(client, visit, device_time=minutes_ago(10))
    uploaded = await upload(client, visit, data)
    assert uploaded.status_code == 201, uploaded.text
    filed = await file_result(client, visit, photo_ids=[uploaded.json()["photo_id"]])
    assert filed.status_code == 201, filed.text
    return visit, uploaded.json()


async def hand_over(
    client: httpx.AsyncClient, sessionmaker: Sessionmaker, visit: AssignedVisit
) -> AssignedVisit:
    """Release the visit from its agent and assign it to a new one."""
    row = await visit_row(sessionmaker, visit.request.visit_id)
    assert row is not None and row.assignment_id is not None
    await publish(
        [
            AssignmentReleased(
                tenant_id=visit.request.tenant_id,
                assignment_id=row.assignment_id,
                visit_id=visit.request.visit_id,
                agent_id=visit.agent_id,
                reason=ReleaseReason.PERSONAL,
                released_at=datetime.now(UTC),
            )
        ]
    )
    await wait_for_state(sessionmaker, visit.request.visit_id, "requested")
    successor = uuid.uuid4()
    await publish(
        [
            AssignmentCreated(
                tenant_id=visit.request.tenant_id,
                assignment_id=uuid.uuid4(),
                offer_id=uuid.uuid4(),
                visit_id=visit.request.visit_id,
                agent_id=successor,
                assigned_at=datetime.now(UTC),
                distance_m=500.0,
            )
        ]
    )
    next_visit = AssignedVisit(visit.request, successor, agent_headers(successor))

    async def visible() -> bool:
        response = await client.get(next_visit.path, headers=next_visit.headers)
        return response.status_code == 200

    await eventually(visible, message="visit assigned to the next agent")
    return next_visit


class TestHandOver:
    async def test_next_agent_cites_only_own_photos(
        self,
        visits: httpx.AsyncClient,
        store: LocalPhotoStore,
        tenant: CreatedTenant,
        sessionmaker: Sessionmaker,
    ) -> None:
        first = await assigned_visit(visits, tenant.tenant_id)
        earlier = await upload(visits, first, make_image(colour=(9, 9, 9)))
        assert earlier.status_code == 201, earlier.text
        second = await hand_over(visits, sessionmaker, first)
        await check_in(visits, second, device_time=minutes_ago(10))
        own = await upload(visits, second, make_image(colour=(200, 9, 9)))
        assert own.status_code == 201, own.text

        cites_earlier = await file_result(
            visits, second, photo_ids=[earlier.json()["photo_id"]]
        )
        assert cites_earlier.status_code == 422, cites_earlier.text
        assert earlier.json()["photo_id"] in cites_earlier.json()["detail"]
        cites_own = await file_result(
            visits, second, photo_ids=[own.json()["photo_id"]]
        )
        assert cites_own.status_code == 201, cites_own.text

    async def test_previous_agents_photo_not_scored(
        self,
        visits: httpx.AsyncClient,
        store: LocalPhotoStore,
        tenant: CreatedTenant,
        sessionmaker: Sessionmaker,
    ) -> None:
        reused = make_image(colour=(8, 8, uuid.uuid4().int % 256))
        elsewhere = await assigned_visit(visits, tenant.tenant_id)
        assert (await upload(visits, elsewhere, reused)).status_code == 201
        first = await assigned_visit(visits, tenant.tenant_id)
        assert (await upload(visits, first, reused)).status_code == 201
        second = await hand_over(visits, sessionmaker, first)
        await check_in(visits, second, device_time=minutes_ago(10))
        filed = await file_result(visits, second)
        assert filed.status_code == 201, filed.text
        fraud = (await detail(visits, tenant, second))["fraud"]
        signals = {s["name"]: s for s in fraud["signals"]}
        assert signals["reused_photo"]["fired"] is False


async def completed_visit(
    client: httpx.AsyncClient, tenant: CreatedTenant
) -> AssignedVisit:
    visit = await assigned_visit(client, tenant.tenant_id)
    await check_in(client, visit, device_time=minutes_ago(10))
    assert (await file_result(client, visit)).status_code == 201
    return visit


def reject_path(visit: AssignedVisit) -> str:
    return f"/visits/{visit.request.visit_id}/reject"


def resolve_path(visit: AssignedVisit) -> str:
    return f"/visits/{visit.request.visit_id}/appeal/resolve"


class TestReview:
    async def test_reject_appeal_and_overturn(
        self,
        visits: httpx.AsyncClient,
        tenant: CreatedTenant,
        sessionmaker: Sessionmaker,
    ) -> None:
        visit = await completed_visit(visits, tenant)
        headers = tenant_headers(tenant)
        rejected = await visits.post(
            reject_path(visit),
            json={"reason": "Photo of another house"},
            headers=headers,
        )
        assert rejected.status_code == 201, rejected.text
        assert rejected.json()["status"] == "rejected"
        assert (await detail(visits, tenant, visit))["state"] == "rejected"

        seen = await visits.get(f"{visit.path}/review", headers=visit.headers)
        assert seen.status_code == 200, seen.text
        assert seen.json()["reason"] == "Photo of another house"

        appeal = f"{visit.path}/appeal"
        appealed = await visits.post(
            appeal, json={"text": "It is the right house"}, headers=visit.headers
        )
        assert appealed.status_code == 201, appealed.text
        twice = await visits.post(appeal, json={"text": "Again"}, headers=visit.headers)
        assert twice.status_code == 409

        resolved = await visits.post(
            resolve_path(visit), json={"outcome": "overturned"}, headers=headers
        )
        assert resolved.status_code == 200, resolved.text
        assert resolved.json()["status"] == "overturned"
        found = await detail(visits, tenant, visit)
        assert found["state"] == "completed"
        assert found["review"]["appeal_text"] == "It is the right house"
        again = await visits.post(
            resolve_path(visit), json={"outcome": "upheld"}, headers=headers
        )
        assert again.status_code == 409

        events = event_types(await visit_events(sessionmaker, visit.request.visit_id))
        assert events[-4:] == [
            "campo.visit.rejected",
            "campo.visit.appealed",
            "campo.visit.appeal_resolved",
            "campo.agent.fee_earned",
        ]

    async def test_upheld_appeal_keeps_rejection(
        self, visits: httpx.AsyncClient, tenant: CreatedTenant
    ) -> None:
        visit = await completed_visit(visits, tenant)
        headers = tenant_headers(tenant)
        await visits.post(
            reject_path(visit), json={"reason": "Too short"}, headers=headers
        )
        await visits.post(
            f"{visit.path}/appeal", json={"text": "I was there"}, headers=visit.headers
        )
        resolved = await visits.post(
            resolve_path(visit),
            json={"outcome": "upheld", "note": "Seconds on site"},
            headers=headers,
        )
        assert resolved.json()["status"] == "upheld"
        assert (await detail(visits, tenant, visit))["state"] == "rejected"

    async def test_rejecting_twice_is_409(
        self, visits: httpx.AsyncClient, tenant: CreatedTenant
    ) -> None:
        visit = await completed_visit(visits, tenant)
        headers = tenant_headers(tenant)
        body = {"reason": "Wrong door"}
        assert (
            await visits.post(reject_path(visit), json=body, headers=headers)
        ).status_code == 201
        assert (
            await visits.post(reject_path(visit), json=body, headers=headers)
        ).status_code == 409

    async def test_open_visit_cannot_be_rejected(
        self, visits: httpx.AsyncClient, tenant: CreatedTenant
    ) -> None:
        visit = await assigned_visit(visits, tenant.tenant_id)
        await check_in(visits, visit)
        response = await visits.post(
            reject_path(visit),
            json={"reason": "Not yet"},
            headers=tenant_headers(tenant),
        )
        assert response.status_code == 409
        assert response.json()["current_state"] == "checked_in"

    async def test_reject_after_window_is_409(
        self,
        visits: httpx.AsyncClient,
        tenant: CreatedTenant,
        sessionmaker: Sessionmaker,
    ) -> None:
        visit = await completed_visit(visits, tenant)
        async with sessionmaker() as session, session.begin():
            await session.execute(
                update(Visit)
                .where(Visit.visit_id == visit.request.visit_id)
                .values(completed_at=datetime.now(UTC) - timedelta(days=30))
            )
        response = await visits.post(
            reject_path(visit), json={"reason": "Late"}, headers=tenant_headers(tenant)
        )
        assert response.status_code == 409
        assert "review_window_closed_at" in response.json()
        row = await visit_row(sessionmaker, visit.request.visit_id)
        assert row is not None and row.state == "completed"

    async def test_other_tenant_and_other_agent_get_404(
        self,
        visits: httpx.AsyncClient,
        tenant: CreatedTenant,
        other_tenant: CreatedTenant,
    ) -> None:
        visit = await completed_visit(visits, tenant)
        stranger = tenant_headers(other_tenant)
        body = {"reason": "Not mine"}
        assert (
            await visits.post(reject_path(visit), json=body, headers=stranger)
        ).status_code == 404
        await visits.post(reject_path(visit), json=body, headers=tenant_headers(tenant))
        appeal = await visits.post(
            f"{visit.path}/appeal",
            json={"text": "Not my visit"},
            headers=agent_headers(uuid.uuid4()),
        )
        assert appeal.status_code == 404
        resolve = await visits.post(
            resolve_path(visit), json={"outcome": "upheld"}, headers=stranger
        )
        assert resolve.status_code == 404

    async def test_appeal_without_rejection_is_409(
        self, visits: httpx.AsyncClient, tenant: CreatedTenant
    ) -> None:
        visit = await completed_visit(visits, tenant)
        response = await visits.post(
            f"{visit.path}/appeal", json={"text": "Nothing"}, headers=visit.headers
        )
        assert response.status_code == 409
        review = await visits.get(f"{visit.path}/review", headers=visit.headers)
        assert review.status_code == 404
        resolve = await visits.post(
            resolve_path(visit),
            json={"outcome": "upheld"},
            headers=tenant_headers(tenant),
        )
        assert resolve.status_code == 409

    @pytest.mark.parametrize("blank", ["     ", "\n\t\n\t", " a "])
    async def test_blank_reason_and_appeal_rejected(
        self, visits: httpx.AsyncClient, tenant: CreatedTenant, blank: str
    ) -> None:
        visit = await completed_visit(visits, tenant)
        headers = tenant_headers(tenant)
        blank_reason = await visits.post(
            reject_path(visit), json={"reason": blank}, headers=headers
        )
        assert blank_reason.status_code == 422, blank_reason.text
        rejected = await visits.post(
            reject_path(visit), json={"reason": "  Wrong door \n"}, headers=headers
        )
        assert rejected.status_code == 201, rejected.text
        assert rejected.json()["reason"] == "Wrong door"
        appeal = f"{visit.path}/appeal"
        blank_text = await visits.post(
            appeal, json={"text": blank}, headers=visit.headers
        )
        assert blank_text.status_code == 422, blank_text.text
        appealed = await visits.post(
            appeal, json={"text": "\tRight door "}, headers=visit.headers
        )
        assert appealed.status_code == 201, appealed.text
