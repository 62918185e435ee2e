from datetime import UTC, datetime, time, timedelta
from decimal import Decimal
from uuid import uuid4

import pytest
from pydantic import ValidationError

from shared.events.payloads import (
    Address,
    BestTime,
    Brief,
    DispatchMode,
    DispatchPolicy,
    GeoPoint,
    Money,
    VisitingHours,
    VisitRequested,
)


def _request_data() -> dict:
    now = datetime.now(UTC)
    return VisitRequested(
        tenant_id=uuid4(),
        visit_id=uuid4(),
        campaign_id=uuid4(),
        account_id=uuid4(),
        account_key="A-1",
        requested_at=now,
        deadline=now + timedelta(days=3),
        fee=Money(amount=Decimal("85.00"), currency="MXN"),
        location=GeoPoint(lat=19.4, lon=-99.1),
        address=Address(),
        debtor_name="Debtor Example",
        brief=Brief(
            objective="Confirm the address",
            questions={"type": "object", "properties": {}},
            max_discount_pct=Decimal("0"),
        ),
    ).model_dump(mode="json")


class TestVisitRequestedDispatch:
    def test_request_without_policy_still_parses(self) -> None:
        data = _request_data()
        del data["dispatch"]

        assert VisitRequested.model_validate(data).dispatch is None

    def test_partial_policy_takes_the_defaults(self) -> None:
        data = _request_data()
        data["dispatch"] = {"mode": "broadcast"}

        policy = VisitRequested.model_validate(data).dispatch

        assert policy is not None
        assert policy.mode == DispatchMode.BROADCAST
        assert policy.offer_timeout_seconds == 600
        assert policy.broadcast_size == 5
        assert policy.max_wait_seconds == 4 * 3600

    def test_old_request_has_no_time_zone_or_hours(self) -> None:
        data = _request_data()
        del data["time_zone"]
        data["dispatch"] = {"mode": "offer"}

        request = VisitRequested.model_validate(data)

        assert request.time_zone is None
        assert request.dispatch is not None
        assert request.dispatch.visiting_hours is None


class TestVisitingHours:
    def test_parses_local_times(self) -> None:
        policy = DispatchPolicy.model_validate(
            {"visiting_hours": {"start": "09:00", "end": "18:30"}}
        )

        assert policy.visiting_hours == VisitingHours(start=time(9), end=time(18, 30))

    @pytest.mark.parametrize(("start", "end"), [("18:00", "09:00"), ("09:00", "09:00")])
    def test_must_start_before_it_ends(self, start: str, end: str) -> None:
        with pytest.raises(ValidationError, match="is not before end"):
            VisitingHours.model_validate({"start": start, "end": end})

    @pytest.mark.parametrize(
        ("start", "end"),
        [("09:00:00+05:00", "18:00:00+05:00"), ("09:00", "18:00Z")],
    )
    def test_offset_rejected(self, start: str, end: str) -> None:
        with pytest.raises(ValidationError, match="has a UTC offset"):
            VisitingHours.model_validate({"start": start, "end": end})

    def test_best_time_offset_rejected(self) -> None:
        with pytest.raises(ValidationError, match="has a UTC offset"):
            BestTime.model_validate(
                {"days": ["monday"], "start": "09:00-06:00", "end": "13:00"}
            )
