"""Account flags and recalls, and the withdrawal of visits they call for."""

import uuid
from datetime import UTC, datetime
from typing import Any

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from ingest.accounts import repository
from ingest.accounts.schemas import (
    AccountChangeOut,
    AccountHistoryOut,
    AccountOut,
    AccountPatch,
    RecallRequest,
)
from ingest.attempts import repository as attempts
from ingest.attempts.service import withdraw_visits
from ingest.models import Account, CampaignVisit, Revisit
from shared.errors import NotFoundError
from shared.events.payloads import Address, GeoPoint, LocationSource, WithdrawalReason
from shared.runtime import ServiceRuntime

log = structlog.get_logger(__name__)


def account_not_found(account_ref: str) -> NotFoundError:
    return NotFoundError(
        f"account {account_ref!r} not found; give the account key or account id"
    )


async def get_account(
    session: AsyncSession, *, tenant_id: uuid.UUID, account_ref: str
) -> AccountOut:
    async with session.begin():
        row = await repository.get_account(
            session, tenant_id=tenant_id, account_ref=account_ref
        )
    if row is None:
        raise account_not_found(account_ref)
    return account_out(row)


async def get_history(
    session: AsyncSession, *, tenant_id: uuid.UUID, account_ref: str
) -> AccountHistoryOut:
    """Return what each upload changed on the account, oldest first."""
    async with session.begin():
        row = await repository.get_account(
            session, tenant_id=tenant_id, account_ref=account_ref
        )
        if row is None:
            raise account_not_found(account_ref)
        items = await repository.account_history(
            session, tenant_id=tenant_id, account_id=row.Account.account_id
        )
    return AccountHistoryOut(
        account_id=row.Account.account_id,
        account_key=row.Account.account_key,
        items=[
            AccountChangeOut(
                upload_id=item.upload_id,
                changed_at=item.changed_at,
                changes=item.changes,
            )
            for item in items
        ],
    )


async def update_account(
    runtime: ServiceRuntime,
    session: AsyncSession,
    *,
    tenant_id: uuid.UUID,
    account_ref: str,
    patch: AccountPatch,
) -> AccountOut:
    """Apply tags and flags; a new flag withdraws the account's open visits."""
    changes: dict[str, Any] = {}
    if "tags" in patch.model_fields_set:
        changes["tags"] = list(dict.fromkeys(patch.tags or []))
    for flag in ("do_not_visit", "do_not_contact"):
        if flag in patch.model_fields_set:
            value = getattr(patch, flag)
            # Setting a flag replaces its note; clearing it clears the note.
            changes[f"{flag}_reason"] = value.reason.value if value else None
            changes[f"{flag}_note"] = value.note if value else None
    withdrawal = None
    if patch.do_not_contact is not None:
        withdrawal = WithdrawalReason.DO_NOT_CONTACT
    elif patch.do_not_visit is not None:
        withdrawal = WithdrawalReason.DO_NOT_VISIT
    async with session.begin():
        account_id = await repository.lock_account_id(
            session, tenant_id=tenant_id, account_ref=account_ref
        )
        if account_id is None:
            raise account_not_found(account_ref)
        if changes:
            await repository.update_account(session, account_id, changes)
        if withdrawal is not None:
            await _withdraw_account(runtime, session, account_id, withdrawal)
        row = await repository.get_account(
            session, tenant_id=tenant_id, account_ref=str(account_id)
        )
    runtime.relay.notify()
    return account_out(row)


async def recall_account(
    runtime: ServiceRuntime,
    session: AsyncSession,
    *,
    tenant_id: uuid.UUID,
    account_ref: str,
    request: RecallRequest,
) -> AccountOut:
    """Mark the account recalled by the creditor and withdraw its open visits.

    Recalling twice keeps the first recall time.
    """
    async with session.begin():
        account_id = await repository.lock_account_id(
            session, tenant_id=tenant_id, account_ref=account_ref
        )
        if account_id is None:
            raise account_not_found(account_ref)
        await repository.mark_recalled(session, account_id)
        if request.note is not None:
            await repository.update_account(
                session, account_id, {"recall_note": request.note}
            )
        await _withdraw_account(
            runtime, session, account_id, WithdrawalReason.ACCOUNT_RECALLED
        )
        row = await repository.get_account(
            session, tenant_id=tenant_id, account_ref=str(account_id)
        )
    runtime.relay.notify()
    return account_out(row)


async def _withdraw_account(
    runtime: ServiceRuntime,
    session: AsyncSession,
    account_id: uuid.UUID,
    reason: WithdrawalReason,
) -> None:
    now = datetime.now(UTC)
    withdrawn = await withdraw_visits(
        runtime,
        session,
        CampaignVisit.account_id == account_id,
        reason=reason,
        now=now,
    )
    revisits = await attempts.cancel_scheduled_revisits(
        session, Revisit.account_id == account_id, reason=reason.value, now=now
    )
    log.info(
        "account.visits_withdrawn",
        account_id=str(account_id),
        reason=reason.value,
        withdrawn_visits=withdrawn,
        cancelled_revisits=revisits,
    )


def _observed_at_visit(account: Account) -> dict[str, Any]:
    # The columns outlive a later upload that places the account again.
    if account.location_source != LocationSource.VISIT:
        return {}
    return {
        "location_accuracy_m": account.location_accuracy_m,
        "location_visit_id": account.location_visit_id,
    }


def account_out(row: Any) -> AccountOut:
    account: Account = row.Account
    location = None
    if row.lat is not None:
        location = GeoPoint(lat=row.lat, lon=row.lon)
    return AccountOut(
        account_id=account.account_id,
        account_key=account.account_key,
        credit_number=account.credit_number,
        debtor_name=account.debtor_name,
        balance_overdue=account.balance_overdue,
        currency=account.currency,
        days_past_due=account.days_past_due,
        address=Address.model_validate(account, from_attributes=True),
        phone=account.phone,
        last_payment_date=account.last_payment_date,
        birth_date=account.birth_date,
        location=location,
        location_precision=account.location_precision,
        location_source=account.location_source,
        **_observed_at_visit(account),
        location_status=account.location_status,
        time_zone=account.time_zone,
        extra=account.extra or {},
        tags=account.tags or [],
        do_not_visit_reason=account.do_not_visit_reason,
        do_not_contact_reason=account.do_not_contact_reason,
        do_not_visit_note=account.do_not_visit_note,
        do_not_contact_note=account.do_not_contact_note,
        recall_note=account.recall_note,
        recalled_at=account.recalled_at,
        last_visit_outcome=account.last_visit_outcome,
        last_visited_at=account.last_visited_at,
        created_at=account.created_at,
        updated_at=account.updated_at,
    )
