"""The writes that keep `visit_details` for campaign exports.

Each is a `VisitUpsert`, which the consumer runs in the transaction that
applies the event to the read models (see `consumers.py`).
"""

from typing import Any

from reporting.export_models import VisitDetail
from reporting.export_repository import known_or_new
from reporting.repository import VisitUpsert
from shared.events.payloads import (
    Address,
    ContactDataUpdated,
    VisitAssigned,
    VisitCheckedIn,
    VisitCompleted,
    VisitRequested,
)


def format_address(address: Address) -> str:
    """Return the address on one line, as a Mexican envelope reads it."""
    street = " ".join(
        part for part in (address.street, address.exterior_number) if part
    )
    if address.interior_number:
        street = f"{street} int. {address.interior_number}".strip()
    parts = (street, address.colonia, format_zone(address))
    return ", ".join(part for part in parts if part)


def format_zone(address: Address) -> str:
    """Return the municipality, state and postal code: no line that finds the door."""
    postal = f"C.P. {address.postal_code}" if address.postal_code else None
    parts = (address.municipality, address.state, postal)
    return ", ".join(part for part in parts if part)


REQUESTED_OWNED = (
    "account_key",
    "debtor_name",
    "address",
    "address_zone",
    "address_lat",
    "address_lon",
)


def _requested_row(payload: VisitRequested) -> dict[str, Any]:
    return _keys(payload) | {
        "account_key": payload.account_key,
        "debtor_name": payload.debtor_name,
        "address": format_address(payload.address),
        "address_zone": format_zone(payload.address),
        "address_lat": payload.location.lat,
        "address_lon": payload.location.lon,
    }


record_requested = VisitUpsert(
    VisitDetail,
    _requested_row,
    lambda excluded: {
        "campaign_id": known_or_new(excluded, "campaign_id"),
        **{name: excluded[name] for name in REQUESTED_OWNED},
    },
)

# The agent who filed the result wins over any assignment, whatever the
# order the events arrive in; see record_completed.
record_assigned = VisitUpsert(
    VisitDetail,
    lambda payload: _keys(payload) | {"agent_id": payload.agent_id},
    lambda excluded: {
        "campaign_id": known_or_new(excluded, "campaign_id"),
        "agent_id": known_or_new(excluded, "agent_id"),
    },
)

# Visits publish only the first check-in of a visit.
CHECKED_IN_OWNED = (
    "check_in_lat",
    "check_in_lon",
    "check_in_distance_m",
    "check_in_accuracy_m",
    "check_in_verified",
)


def _checked_in_row(payload: VisitCheckedIn) -> dict[str, Any]:
    return _keys(payload) | {
        "agent_id": payload.agent_id,
        "check_in_lat": payload.lat,
        "check_in_lon": payload.lon,
        "check_in_distance_m": payload.distance_m,
        "check_in_accuracy_m": payload.accuracy_m,
        "check_in_verified": payload.verified,
    }


record_checked_in = VisitUpsert(
    VisitDetail,
    _checked_in_row,
    lambda excluded: {
        "campaign_id": known_or_new(excluded, "campaign_id"),
        "agent_id": known_or_new(excluded, "agent_id"),
        **{name: excluded[name] for name in CHECKED_IN_OWNED},
    },
)

COMPLETED_OWNED = (
    "agent_id",
    "result_code",
    "notes",
    "new_phone",
    "promise_due_date",
    "flagged",
    "photo_ids",
)


def _completed_row(payload: VisitCompleted) -> dict[str, Any]:
    return _keys(payload) | {
        "account_key": payload.account_key,
        "agent_id": payload.agent_id,
        "result_code": payload.result_code,
        "notes": payload.notes,
        "new_phone": payload.new_phone,
        "promise_due_date": payload.promise.due_date if payload.promise else None,
        "flagged": payload.flagged,
        "photo_ids": list(payload.photo_ids),
    }


record_completed = VisitUpsert(
    VisitDetail,
    _completed_row,
    lambda excluded: {
        "campaign_id": known_or_new(excluded, "campaign_id"),
        "account_key": known_or_new(excluded, "account_key"),
        **{name: excluded[name] for name in COMPLETED_OWNED},
    },
)


def _contact_update_row(payload: ContactDataUpdated) -> dict[str, Any]:
    phones = [phone.model_dump(mode="json") for phone in payload.update.phones]
    return _keys(payload) | {
        "account_key": payload.account_key,
        "reported_phones": phones,
    }


record_contact_update = VisitUpsert(
    VisitDetail,
    _contact_update_row,
    lambda excluded: {
        "campaign_id": known_or_new(excluded, "campaign_id"),
        "account_key": known_or_new(excluded, "account_key"),
        "reported_phones": excluded.reported_phones,
    },
)


RECORDERS: dict[type, VisitUpsert] = {
    VisitRequested: record_requested,
    VisitAssigned: record_assigned,
    VisitCheckedIn: record_checked_in,
    VisitCompleted: record_completed,
    ContactDataUpdated: record_contact_update,
}


def _keys(payload: Any) -> dict[str, Any]:
    return {
        "visit_id": payload.visit_id,
        "tenant_id": payload.tenant_id,
        "campaign_id": payload.campaign_id,
    }
