"""A verified check-in that places the door of a coarsely geocoded address.

The check-in reports the door's position to ingest only when it can do
better than the point the visit was sent with: the geocode is coarse (not
rooftop) and the fix is more accurate than the geocode's radius. Only the
first verified fix of a visit is reported, so an agent cannot drag the
account's point around by checking in again elsewhere.
"""

from datetime import datetime
from typing import Any
from uuid import UUID

from shared.events.payloads import AccountLocationObserved, GeoPoint, LocationPrecision
from shared.locations import is_improvable, uncertainty_radius_meters
from visits.schemas import CheckInRequest


def geocode_precision(visit: Any) -> LocationPrecision | None:
    """Read the stored precision; None for visits requested without one."""
    value = visit.location_precision
    return None if value is None else LocationPrecision(value)


def geocode_radius_meters(visit: Any) -> float | None:
    return uncertainty_radius_meters(
        geocode_precision(visit), visit.location_accuracy_m
    )


def improves_geocode(visit: Any, request: CheckInRequest) -> bool:
    return not request.mock_location and is_improvable(
        geocode_precision(visit),
        accuracy_m=visit.location_accuracy_m,
        observed_accuracy_m=request.accuracy_m,
    )


def location_observed(
    visit: Any,
    request: CheckInRequest,
    *,
    visit_id: UUID,
    agent_id: UUID,
    check_in_id: UUID,
    now: datetime,
) -> AccountLocationObserved:
    """Build the event for a visit row returned by `mark_checked_in`."""
    precision = geocode_precision(visit)
    if precision is None:
        raise ValueError(f"visit {visit_id} has no geocode precision to improve")
    return AccountLocationObserved(
        tenant_id=visit.tenant_id,
        visit_id=visit_id,
        campaign_id=visit.campaign_id,
        account_id=visit.account_id,
        agent_id=agent_id,
        check_in_id=check_in_id,
        location=GeoPoint(lat=request.lat, lon=request.lon),
        accuracy_m=request.accuracy_m,
        geocoded_location=GeoPoint(lat=visit.lat, lon=visit.lon),
        geocoded_precision=precision,
        checked_in_at=now,
        device_time=request.device_time,
    )
