"""Handlers that keep `visit_details` for campaign exports.

`with_export_details` wraps the read models' handlers: each wrapped handler
runs the original one, then records the event's details in the same
transaction, so the two tables never disagree about which events were seen.
"""

from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from reporting.export_repository import known_or_new, upsert_visit_detail
from shared.events import Envelope
from shared.events.payloads import (
    Address,
    ContactDataUpdated,
    VisitAssigned,
    VisitCheckedIn,
    VisitCompleted,
    VisitRequested,
)

Handler = Callable[[AsyncSession, Envelope, Any], Awaitable[None]]


def format_address(address: Address) -> str:
    """Return the address on one line, as a Mexican envelope reads it."""
    street = " ".join(
        part for part in (address.street, address.exterior_number) if part
    )
    if address.interior_number:
        street = f"{street} int. {address.interior_number}".strip()
    postal = f"C.P. {address.postal_code}" if address.postal_code else None
    parts = (street, address.colonia, address.municipality, address.state, postal)
    return ", ".join(part for part in parts if part)


async def record_requested(session: AsyncSession, payload: VisitRequested) -> None:
    owned = {
        "account_key": payload.account_key,
        "debtor_name": payload.debtor_name,
        "address": format_address(payload.address),
        "address_lat": payload.location.lat,
        "address_lon": payload.location.lon,
    }
    await upsert_visit_detail(
        session,
        _keys(payload) | owned,
        lambda excluded: {
            "campaign_id": known_or_new(excluded, "campaign_id"),
            **{name: excluded[name] for name in owned},
        },
    )


async def record_assigned(session: AsyncSession, payload: VisitAssigned) -> None:
    # The agent who filed the result wins over any assignment, whatever the
    # order the events arrive in; see record_completed.
    await upsert_visit_detail(
        session,
        _keys(payload) | {"agent_id": payload.agent_id},
        lambda excluded: {
            "campaign_id": known_or_new(excluded, "campaign_id"),
            "agent_id": known_or_new(excluded, "agent_id"),
        },
    )


async def record_checked_in(session: AsyncSession, payload: VisitCheckedIn) -> None:
    # Visits publish only the first check-in of a visit.
    owned = {
        "check_in_lat": payload.lat,
        "check_in_lon": payload.lon,
        "check_in_distance_m": payload.distance_m,
        "check_in_accuracy_m": payload.accuracy_m,
        "check_in_verified": payload.verified,
    }
    await upsert_visit_detail(
        session,
        _keys(payload) | {"agent_id": payload.agent_id} | owned,
        lambda excluded: {
            "campaign_id": known_or_new(excluded, "campaign_id"),
            "agent_id": known_or_new(excluded, "agent_id"),
            **{name: excluded[name] for name in owned},
        },
    )


async def record_completed(session: AsyncSession, payload: VisitCompleted) -> None:
    owned = {
        "agent_id": payload.agent_id,
        "result_code": payload.result_code,
        "notes": payload.notes,
        "new_phone": payload.new_phone,
        "promise_due_date": payload.promise.due_date if payload.promise else None,
        "flagged": payload.flagged,
        "photo_ids": list(payload.photo_ids),
    }
    await upsert_visit_detail(
        session,
        _keys(payload) | {"account_key": payload.account_key} | owned,
        lambda excluded: {
            "campaign_id": known_or_new(excluded, "campaign_id"),
            "account_key": known_or_new(excluded, "account_key"),
            **{name: excluded[name] for name in owned},
        },
    )


async def record_contact_update(
    session: AsyncSession, payload: ContactDataUpdated
) -> None:
    phones = [phone.model_dump(mode="json") for phone in payload.update.phones]
    await upsert_visit_detail(
        session,
        _keys(payload)
        | {"account_key": payload.account_key, "reported_phones": phones},
        lambda excluded: {
            "campaign_id": known_or_new(excluded, "campaign_id"),
            "account_key": known_or_new(excluded, "account_key"),
            "reported_phones": excluded.reported_phones,
        },
    )


RECORDERS: dict[type, Callable[[AsyncSession, Any], Awaitable[None]]] = {
    VisitRequested: record_requested,
    VisitAssigned: record_assigned,
    VisitCheckedIn: record_checked_in,
    VisitCompleted: record_completed,
    ContactDataUpdated: record_contact_update,
}


def with_export_details(handlers: Mapping[type, Handler]) -> dict[type, Handler]:
    """Return the handlers, each also recording its event's export details."""
    combined = dict(handlers)
    for event_type, record in RECORDERS.items():
        combined[event_type] = _then_record(handlers.get(event_type), record)
    return combined


def _then_record(
    handler: Handler | None, record: Callable[[AsyncSession, Any], Awaitable[None]]
) -> Handler:
    async def handle(session: AsyncSession, envelope: Envelope, payload: Any) -> None:
        if handler is not None:
            await handler(session, envelope, payload)
        await record(session, payload)

    return handle


def _keys(payload: Any) -> dict[str, Any]:
    return {
        "visit_id": payload.visit_id,
        "tenant_id": payload.tenant_id,
        "campaign_id": payload.campaign_id,
    }
