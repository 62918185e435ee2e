"""Door positions from verified check-ins, which improve a coarse geocode.

Visits reports the first verified, unmocked check-in of a visit whose
address was placed coarsely. The account takes the position, with precision
and source `visit` and the fix's accuracy, only when that is finer than what
it has: a rooftop point, the creditor's own coordinates among them, is never
replaced. A later visit to the account is sent to the new point.
"""

from typing import Any

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from ingest.accounts import repository
from shared.events import Envelope
from shared.events.payloads import (
    AccountLocationObserved,
    LocationPrecision,
    LocationSource,
)
from shared.locations import is_improvable

log = structlog.get_logger(__name__)

# Coordinates read back from PostGIS match the event's to far better than
# this; a larger gap means the account was placed again since the request.
SAME_POINT_DEGREES = 1e-6


def ignored_because(account: Any, payload: AccountLocationObserved) -> str | None:
    """Return why the observation leaves the account alone, or None to apply it.

    `account` is a row with `Account`, `lat` and `lon`. A repeat of the same
    visit's observation, a point that changed since the visit was requested
    (a new address, or another visit's fix), and a point already as fine as
    the fix are all left alone.
    """
    stored = account.Account
    if stored.location_visit_id == payload.visit_id:
        return "already_applied"
    if account.lat is None or not _same_point(account, payload):
        return "location_changed_since_request"
    precision = stored.location_precision
    if not is_improvable(
        None if precision is None else LocationPrecision(precision),
        accuracy_m=stored.location_accuracy_m,
        observed_accuracy_m=payload.accuracy_m,
    ):
        return "not_coarser"
    return None


def _same_point(account: Any, payload: AccountLocationObserved) -> bool:
    geocoded = payload.geocoded_location
    return (
        abs(account.lat - geocoded.lat) <= SAME_POINT_DEGREES
        and abs(account.lon - geocoded.lon) <= SAME_POINT_DEGREES
    )


def history_changes(account: Any, payload: AccountLocationObserved) -> dict[str, Any]:
    """Return the change as the account history shows it: locations as WKT."""
    stored = account.Account
    observed = payload.location
    return {
        "location": {
            "old": f"POINT({account.lon} {account.lat})",
            "new": f"POINT({observed.lon} {observed.lat})",
        },
        "location_precision": {
            "old": stored.location_precision,
            "new": LocationPrecision.VISIT.value,
        },
        "location_source": {
            "old": stored.location_source,
            "new": LocationSource.VISIT.value,
        },
        "location_visit_id": {
            "old": None
            if stored.location_visit_id is None
            else str(stored.location_visit_id),
            "new": str(payload.visit_id),
        },
    }


async def on_location_observed(
    session: AsyncSession, envelope: Envelope, payload: AccountLocationObserved
) -> None:
    """Place the account at the door a check-in found, if that is finer.

    The account row is locked, so two visits' observations apply one at a
    time and the finer one wins whatever their order.
    """
    ids = {"account_id": str(payload.account_id), "visit_id": str(payload.visit_id)}
    account = await repository.lock_located_account(
        session, tenant_id=payload.tenant_id, account_id=payload.account_id
    )
    if account is None:
        log.info("account.location_observed_unknown_account", **ids)
        return
    reason = ignored_because(account, payload)
    if reason is not None:
        log.info("account.location_observation_ignored", reason=reason, **ids)
        return
    await repository.insert_history(
        session,
        tenant_id=payload.tenant_id,
        account_id=payload.account_id,
        changes=history_changes(account, payload),
    )
    observed = payload.location
    await repository.update_account(
        session,
        payload.account_id,
        {
            "location": repository.point(observed.lat, observed.lon),
            "location_precision": LocationPrecision.VISIT.value,
            "location_source": LocationSource.VISIT.value,
            "location_accuracy_m": payload.accuracy_m,
            "location_visit_id": payload.visit_id,
            "location_observed_at": payload.checked_in_at,
        },
    )
    log.info(
        "account.location_improved",
        previous_precision=account.Account.location_precision,
        accuracy_m=payload.accuracy_m,
        **ids,
    )
