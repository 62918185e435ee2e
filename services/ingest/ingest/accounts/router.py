from decimal import Decimal
from typing import Annotated

from fastapi import APIRouter, Path, Query

from ingest.accounts import bulk, repository, service
from ingest.accounts.bulk_schemas import MAX_BULK_ACCOUNTS, BulkRequest, BulkResult
from ingest.accounts.schemas import (
    AccountHistoryOut,
    AccountOut,
    AccountPage,
    AccountPatch,
    RecallRequest,
)
from ingest.accounts.search import AccountSearch, LocationStatus, search_conditions
from ingest.dependencies import LocatorDep
from shared.api import (
    AccountsReader,
    AccountsWriter,
    IdempotencyKey,
    RuntimeDep,
    SessionDep,
)
from shared.errors import (
    NotFoundError,
    UnauthorizedError,
    UnprocessableError,
    problem_responses,
)
from shared.idempotency import IdempotencyKeyReusedError
from shared.masking import disclose, for_caller, shows_personal_data
from shared.schemas import required_text

# Far above any tenant's portfolio, and well inside PostgreSQL's bigint.
MAX_OFFSET = 10_000_000

# An account key (up to 100 characters) or an account id; a NUL character
# is rejected here, before it reaches the database.
AccountRef = Annotated[
    required_text(100), Path(description="The account key or the account id.")
]

router = APIRouter(prefix="/accounts", tags=["accounts"])


@router.get(
    "",
    summary="Search the tenant's accounts",
    description=(
        "Filters combine with AND; a repeated filter (`state`, `municipality`, "
        "`postal_code`, `tag`) matches any of its values. `q` matches part of "
        "the debtor's name, the account key or the credit number, ignoring "
        "case; without the personal:read scope, names come masked and `q` "
        "matches only keys and credit numbers. Accounts come sorted by "
        "account key."
    ),
    responses=problem_responses(UnauthorizedError, UnprocessableError),
)
async def list_accounts(
    tenant: AccountsReader,
    runtime: RuntimeDep,
    session: SessionDep,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[
        int,
        Query(ge=0, le=MAX_OFFSET, description=f"Accounts to skip, 0 to {MAX_OFFSET}."),
    ] = 0,
    q: Annotated[str | None, Query(max_length=200)] = None,
    state: Annotated[list[str] | None, Query()] = None,
    municipality: Annotated[list[str] | None, Query()] = None,
    postal_code: Annotated[list[str] | None, Query()] = None,
    tag: Annotated[list[str] | None, Query()] = None,
    min_days_past_due: Annotated[int | None, Query()] = None,
    max_days_past_due: Annotated[int | None, Query()] = None,
    min_balance: Annotated[Decimal | None, Query()] = None,
    max_balance: Annotated[Decimal | None, Query()] = None,
    location_status: Annotated[LocationStatus | None, Query()] = None,
    do_not_visit: Annotated[
        bool | None,
        Query(description="true: only flagged accounts; false: only unflagged."),
    ] = None,
) -> AccountPage:
    conditions = search_conditions(
        AccountSearch(
            q=q,
            states=state,
            municipalities=municipality,
            postal_codes=postal_code,
            tags=tag,
            min_days_past_due=min_days_past_due,
            max_days_past_due=max_days_past_due,
            min_balance=min_balance,
            max_balance=max_balance,
            location_status=location_status,
            do_not_visit=do_not_visit,
            names_searchable=shows_personal_data(tenant),
        )
    )
    async with session.begin():
        total, rows = await repository.page_accounts(
            session,
            tenant_id=tenant.tenant_id,
            limit=limit,
            offset=offset,
            conditions=conditions,
        )
    page = AccountPage(
        total=total,
        limit=limit,
        offset=offset,
        items=[service.account_out(r) for r in rows],
    )
    return await disclose(
        page,
        tenant,
        runtime,
        resource="account",
        resource_ids=[item.account_id for item in page.items],
    )


@router.post(
    "/bulk",
    status_code=201,
    summary=f"Upsert up to {MAX_BULK_ACCOUNTS} accounts as JSON",
    description=(
        "Each account is checked by the same rules as a file's row and stored "
        "the same way; `errors` lists each invalid or doubtful value with the "
        "item's index. With `on_error=reject_all`, one error stores nothing."
    ),
    responses=problem_responses(
        UnauthorizedError,
        bulk.TooManyAccountsError,
        UnprocessableError,
        IdempotencyKeyReusedError,
    ),
)
async def bulk_upsert_accounts(
    body: BulkRequest,
    tenant: AccountsWriter,
    runtime: RuntimeDep,
    session: SessionDep,
    locator: LocatorDep,
    idempotency_key: IdempotencyKey = None,
) -> BulkResult:
    return await bulk.store_bulk(
        runtime,
        session,
        tenant_id=tenant.tenant_id,
        request=body,
        locator=locator,
        idempotency_key=idempotency_key,
    )


@router.get(
    "/{account_ref}",
    summary="One account by the tenant's account key or by account id",
    responses=problem_responses(UnauthorizedError, NotFoundError),
)
async def get_account(
    account_ref: AccountRef,
    tenant: AccountsReader,
    runtime: RuntimeDep,
    session: SessionDep,
) -> AccountOut:
    account = await service.get_account(
        session, tenant_id=tenant.tenant_id, account_ref=account_ref
    )
    return await disclose(
        account, tenant, runtime, resource="account", resource_ids=[account.account_id]
    )


@router.get(
    "/{account_ref}/history",
    summary="What each upload changed on one account",
    responses=problem_responses(UnauthorizedError, NotFoundError),
)
async def get_account_history(
    account_ref: AccountRef,
    tenant: AccountsReader,
    runtime: RuntimeDep,
    session: SessionDep,
) -> AccountHistoryOut:
    history = await service.get_history(
        session, tenant_id=tenant.tenant_id, account_ref=account_ref
    )
    return await disclose(
        history,
        tenant,
        runtime,
        resource="account_history",
        resource_ids=[account_ref],
    )


@router.patch(
    "/{account_ref}",
    summary="Set tags, do-not-visit and do-not-contact flags; flags withdraw visits",
    responses=problem_responses(UnauthorizedError, NotFoundError),
)
async def patch_account(
    account_ref: AccountRef,
    body: AccountPatch,
    tenant: AccountsWriter,
    runtime: RuntimeDep,
    session: SessionDep,
) -> AccountOut:
    account = await service.update_account(
        runtime,
        session,
        tenant_id=tenant.tenant_id,
        account_ref=account_ref,
        patch=body,
    )
    return for_caller(account, tenant)


@router.post(
    "/{account_ref}/recall",
    summary="Record that the creditor withdrew the account; open visits are withdrawn",
    responses=problem_responses(UnauthorizedError, NotFoundError),
)
async def recall_account(
    account_ref: AccountRef,
    tenant: AccountsWriter,
    runtime: RuntimeDep,
    session: SessionDep,
    body: RecallRequest | None = None,
) -> AccountOut:
    account = await service.recall_account(
        runtime,
        session,
        tenant_id=tenant.tenant_id,
        account_ref=account_ref,
        request=body or RecallRequest(),
    )
    return for_caller(account, tenant)
