from typing import Annotated

from fastapi import APIRouter, Query

from ingest.accounts import repository, service
from ingest.accounts.schemas import (
    AccountHistoryOut,
    AccountOut,
    AccountPage,
    AccountPatch,
    RecallRequest,
)
from shared.api import CurrentTenant, RuntimeDep, SessionDep
from shared.errors import NotFoundError, UnauthorizedError, problem_responses

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
        total=total,
        limit=limit,
        offset=offset,
        items=[service.account_out(r) for r in rows],
    )


@router.get(
    "/{account_ref}",
    summary="One account by the tenant's account key or by account id",
    responses=problem_responses(UnauthorizedError, NotFoundError),
)
async def get_account(
    account_ref: str, tenant: CurrentTenant, session: SessionDep
) -> AccountOut:
    return await service.get_account(
        session, tenant_id=tenant.tenant_id, account_ref=account_ref
    )


@router.get(
    "/{account_ref}/history",
    summary="What each upload changed on one account",
    responses=problem_responses(UnauthorizedError, NotFoundError),
)
async def get_account_history(
    account_ref: str, tenant: CurrentTenant, session: SessionDep
) -> AccountHistoryOut:
    return await service.get_history(
        session, tenant_id=tenant.tenant_id, account_ref=account_ref
    )


@router.patch(
    "/{account_ref}",
    summary="Set tags, do-not-visit and do-not-contact flags; flags withdraw visits",
    responses=problem_responses(UnauthorizedError, NotFoundError),
)
async def patch_account(
    account_ref: str,
    body: AccountPatch,
    tenant: CurrentTenant,
    runtime: RuntimeDep,
    session: SessionDep,
) -> AccountOut:
    return await service.update_account(
        runtime,
        session,
        tenant_id=tenant.tenant_id,
        account_ref=account_ref,
        patch=body,
    )


@router.post(
    "/{account_ref}/recall",
    summary="Record that the creditor withdrew the account; open visits are withdrawn",
    responses=problem_responses(UnauthorizedError, NotFoundError),
)
async def recall_account(
    account_ref: str,
    tenant: CurrentTenant,
    runtime: RuntimeDep,
    session: SessionDep,
    body: RecallRequest | None = None,
) -> AccountOut:
    return await service.recall_account(
        runtime,
        session,
        tenant_id=tenant.tenant_id,
        account_ref=account_ref,
        request=body or RecallRequest(),
    )
