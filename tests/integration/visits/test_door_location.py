"""A verified check-in at a coarsely geocoded address reports the door's position."""

import httpx
from sqlalchemy import select

from shared.events import Envelope
from shared.events.payloads import LocationPrecision
from tests.integration.visits.helpers import (
    ZOCALO,
    Sessionmaker,
    assigned_visit,
    check_in_body,
    offset,
    result_body,
    visit_events,
)
from visits.models import VisitResult

OBSERVED = "campo.account.location_observed"
# The real door, 2 km from a postal code's centroid (radius 2,500 m).
DOOR = offset(ZOCALO, north_m=2_000)


def observations(events: list[Envelope]) -> list[Envelope]:
    return [event for event in events if event.type == OBSERVED]


class TestCoarseGeocode:
    async def test_first_verified_check_in_reports_the_door(
        self, visits: httpx.AsyncClient, sessionmaker: Sessionmaker
    ) -> None:
        visit = await assigned_visit(
            visits, location_precision=LocationPrecision.POSTAL_CODE
        )

        response = await visits.post(
            f"{visit.path}/check-in",
            json=check_in_body(DOOR, accuracy_m=15.0),
            headers=visit.headers,
        )
        again = await visits.post(
            f"{visit.path}/check-in",
            json=check_in_body(DOOR, accuracy_m=5.0),
            headers=visit.headers,
        )

        assert response.status_code == 201, response.text
        assert response.json()["verified"] is True
        assert again.json()["verified"] is True
        [event] = observations(await visit_events(sessionmaker, visit.request.visit_id))
        data = event.data
        assert data["account_id"] == str(visit.request.account_id)
        assert data["accuracy_m"] == 15.0
        assert data["location"] == {"lat": DOOR.lat, "lon": DOOR.lon}
        assert data["geocoded_precision"] == "postal_code"
        assert data["geocoded_location"]["lat"] == ZOCALO.lat

    async def test_fix_outside_the_geocode_radius_unverified_and_silent(
        self, visits: httpx.AsyncClient, sessionmaker: Sessionmaker
    ) -> None:
        visit = await assigned_visit(
            visits, location_precision=LocationPrecision.POSTAL_CODE
        )
        far = offset(ZOCALO, north_m=4_000)

        response = await visits.post(
            f"{visit.path}/check-in",
            json=check_in_body(far, accuracy_m=15.0),
            headers=visit.headers,
        )

        assert response.json()["verified"] is False
        events = await visit_events(sessionmaker, visit.request.visit_id)
        assert observations(events) == []

    async def test_mocked_fix_reports_nothing(
        self, visits: httpx.AsyncClient, sessionmaker: Sessionmaker
    ) -> None:
        visit = await assigned_visit(
            visits, location_precision=LocationPrecision.LOCALITY
        )

        response = await visits.post(
            f"{visit.path}/check-in",
            json=check_in_body(DOOR, accuracy_m=15.0, mock_location=True),
            headers=visit.headers,
        )

        assert response.json()["verified"] is False
        events = await visit_events(sessionmaker, visit.request.visit_id)
        assert observations(events) == []

    async def test_unverified_then_verified_reports_the_verified_fix(
        self, visits: httpx.AsyncClient, sessionmaker: Sessionmaker
    ) -> None:
        visit = await assigned_visit(
            visits, location_precision=LocationPrecision.LOCALITY
        )
        for accuracy_m in (400.0, 12.0):
            response = await visits.post(
                f"{visit.path}/check-in",
                json=check_in_body(DOOR, accuracy_m=accuracy_m),
                headers=visit.headers,
            )
            assert response.status_code == 201, response.text

        [event] = observations(await visit_events(sessionmaker, visit.request.visit_id))
        assert event.data["accuracy_m"] == 12.0

    async def test_fraud_score_judges_distance_against_the_geocode_radius(
        self, visits: httpx.AsyncClient, sessionmaker: Sessionmaker
    ) -> None:
        visit = await assigned_visit(
            visits, location_precision=LocationPrecision.POSTAL_CODE
        )
        await visits.post(
            f"{visit.path}/check-in",
            json=check_in_body(DOOR, accuracy_m=15.0),
            headers=visit.headers,
        )

        filed = await visits.post(
            f"{visit.path}/result", json=result_body(), headers=visit.headers
        )

        assert filed.status_code == 201, filed.text
        async with sessionmaker() as session:
            signals = await session.scalar(
                select(VisitResult.signals).where(
                    VisitResult.visit_id == visit.request.visit_id
                )
            )
        [distance] = [s for s in signals if s["name"] == "distance_from_address"]
        assert distance["threshold"] == 2_500.0
        assert distance["fired"] is False


class TestPreciseGeocode:
    async def test_rooftop_check_in_reports_nothing(
        self, visits: httpx.AsyncClient, sessionmaker: Sessionmaker
    ) -> None:
        visit = await assigned_visit(
            visits, location_precision=LocationPrecision.ROOFTOP
        )

        response = await visits.post(
            f"{visit.path}/check-in",
            json=check_in_body(ZOCALO, accuracy_m=5.0),
            headers=visit.headers,
        )

        assert response.json()["verified"] is True
        events = await visit_events(sessionmaker, visit.request.visit_id)
        assert observations(events) == []

    async def test_far_fix_at_a_rooftop_geocode_unverified(
        self, visits: httpx.AsyncClient
    ) -> None:
        visit = await assigned_visit(
            visits, location_precision=LocationPrecision.ROOFTOP
        )

        response = await visits.post(
            f"{visit.path}/check-in",
            json=check_in_body(DOOR, accuracy_m=5.0),
            headers=visit.headers,
        )

        assert response.json()["verified"] is False
