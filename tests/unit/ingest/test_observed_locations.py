import uuid
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

from ingest.accounts.observed import history_changes, ignored_because
from shared.events.payloads import AccountLocationObserved, GeoPoint, LocationPrecision

CENTROID = GeoPoint(lat=19.40, lon=-99.15)
DOOR = GeoPoint(lat=19.41, lon=-99.16)
NOW = datetime(2026, 12, 4, 17, 0, tzinfo=UTC)


def observed(**overrides: Any) -> AccountLocationObserved:
    values: dict[str, Any] = {
        "tenant_id": uuid.uuid4(),
        "visit_id": uuid.uuid4(),
        "campaign_id": uuid.uuid4(),
        "account_id": uuid.uuid4(),
        "agent_id": uuid.uuid4(),
        "check_in_id": uuid.uuid4(),
        "location": DOOR,
        "accuracy_m": 15.0,
        "geocoded_location": CENTROID,
        "geocoded_precision": LocationPrecision.LOCALITY,
        "checked_in_at": NOW,
        "device_time": NOW,
    }
    values.update(overrides)
    return AccountLocationObserved(**values)


def account(
    *,
    point: GeoPoint | None = CENTROID,
    precision: str | None = "locality",
    accuracy_m: float | None = None,
    visit_id: uuid.UUID | None = None,
) -> SimpleNamespace:
    stored = SimpleNamespace(
        location_precision=precision,
        location_source="gazetteer",
        location_accuracy_m=accuracy_m,
        location_visit_id=visit_id,
    )
    return SimpleNamespace(
        Account=stored,
        lat=point.lat if point else None,
        lon=point.lon if point else None,
    )


class TestIgnoredBecause:
    def test_coarse_geocode_at_the_requested_point_applied(self) -> None:
        assert ignored_because(account(), observed()) is None

    def test_same_visit_again_ignored(self) -> None:
        payload = observed()
        stored = account(
            point=DOOR, precision="visit", accuracy_m=15.0, visit_id=payload.visit_id
        )
        assert ignored_because(stored, payload) == "already_applied"

    def test_account_placed_again_since_the_request_ignored(self) -> None:
        moved = GeoPoint(lat=CENTROID.lat + 0.01, lon=CENTROID.lon)
        assert ignored_because(account(point=moved), observed()) == (
            "location_changed_since_request"
        )

    def test_unplaced_account_ignored(self) -> None:
        assert ignored_because(account(point=None), observed()) == (
            "location_changed_since_request"
        )

    def test_creditor_rooftop_never_replaced(self) -> None:
        assert ignored_because(account(precision="rooftop"), observed()) == (
            "not_coarser"
        )

    def test_earlier_visit_with_a_finer_fix_kept(self) -> None:
        stored = account(precision="visit", accuracy_m=8.0, visit_id=uuid.uuid4())
        assert ignored_because(stored, observed(accuracy_m=15.0)) == "not_coarser"


class TestHistoryChanges:
    def test_change_names_the_visit_and_both_points(self) -> None:
        payload = observed()

        changes = history_changes(account(), payload)

        assert changes["location"] == {
            "old": f"POINT({CENTROID.lon} {CENTROID.lat})",
            "new": f"POINT({DOOR.lon} {DOOR.lat})",
        }
        assert changes["location_precision"] == {"old": "locality", "new": "visit"}
        assert changes["location_visit_id"]["new"] == str(payload.visit_id)
