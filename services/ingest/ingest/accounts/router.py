from typing import Annotated, Any

from fastapi import APIRouter, Query

from ingest.accounts import repository
from ingest.accounts.schemas import AccountOut, AccountPage
from shared.api import CurrentTenant, SessionDep
from shared.errors import NotFoundError, UnauthorizedError, problem_responses
from shared.events.payloads import Address, GeoPoint

router = APIRouter(prefix="/accounts", tags=["accounts"])


@router.get(
    "", summary="The tenant's accounts", responses=problem_responses(UnauthorizedError)
)
async def list_accounts(
    tenant: CurrentTenant,
    session: SessionDep,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> AccountPage:
    async with session.begin():
        total, rows = await repository.page_accounts(
            session, tenant_id=tenant.tenant_id, limit=limit, offset=offset
        )
    return AccountPage(
        total=total, limit=limit, offset=offset, items=[_account_out(r) for r in rows]
    )


@router.get(
    "/{account_key}",
    summary="One account by the tenant's account key",
    responses=problem_responses(UnauthorizedError, NotFoundError),
)
async def get_account(
    account_key: str, tenant: CurrentTenant, session: SessionDep
) -> AccountOut:
    async with session.begin():
        row = await repository.get_account(
            session, tenant_id=tenant.tenant_id, account_key=account_key
        )
    if row is None:
        raise NotFoundError(f"account {account_key!r} not found")
    return _account_out(row)


def _account_out(row: Any) -> AccountOut:
    account = row.Account
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
        location_status=account.location_status,
        time_zone=account.time_zone,
        extra=account.extra or {},
        created_at=account.created_at,
        updated_at=account.updated_at,
    )
