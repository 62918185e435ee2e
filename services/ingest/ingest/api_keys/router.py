"""A tenant's API keys: create one per integration, list them, revoke them."""

import uuid

from fastapi import APIRouter, Response, status
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from ingest.api_keys.schemas import ApiKeyIn, ApiKeyList, ApiKeyOut, NewApiKeyOut
from ingest.dependencies import SettingsDep
from ingest.models import common
from ingest.tenants import create_api_key, revoke_api_key
from shared.api import KeysManager, SessionDep
from shared.errors import (
    ForbiddenError,
    NotFoundError,
    UnauthorizedError,
    problem_responses,
)
from shared.permissions import parse_scopes, scopes_beyond

router = APIRouter(prefix="/api-keys", tags=["API keys"])

MAX_KEYS_LISTED = 500


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    summary="Create an API key; the key is shown only in this response",
    responses=problem_responses(UnauthorizedError, ForbiddenError),
)
async def create_key(
    body: ApiKeyIn, tenant: KeysManager, session: SessionDep, settings: SettingsDep
) -> NewApiKeyOut:
    scopes = parse_scopes(body.scopes)
    beyond = scopes_beyond(scopes, tenant.scopes)
    if beyond:
        raise ForbiddenError(
            f"the new key would hold {', '.join(beyond)}, which the calling key "
            "lacks; a key can grant only scopes it holds",
            missing_scopes=beyond,
        )
    async with session.begin():
        key = await create_api_key(
            session,
            tenant_id=tenant.tenant_id,
            settings=settings,
            name=body.name,
            scopes=scopes,
        )
        out = await _key_out(session, tenant.tenant_id, key.key_id)
    return NewApiKeyOut(**out.model_dump(), key=key.key)


@router.get(
    "",
    summary="The tenant's API keys, newest first, revoked ones included",
    responses=problem_responses(UnauthorizedError, ForbiddenError),
)
async def list_keys(tenant: KeysManager, session: SessionDep) -> ApiKeyList:
    keys = common.api_keys
    async with session.begin():
        rows = (
            await session.execute(
                select(*_KEY_COLUMNS)
                .where(keys.c.tenant_id == tenant.tenant_id)
                .order_by(keys.c.created_at.desc(), keys.c.key_id)
                .limit(MAX_KEYS_LISTED)
            )
        ).all()
    return ApiKeyList(items=[ApiKeyOut.model_validate(row._mapping) for row in rows])


@router.delete(
    "/{key_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Revoke an API key in every service",
    description=(
        "The key stops working in ingest at once and in the other services "
        "as soon as they read the revocation event, usually within a second. "
        "Revoking a revoked key succeeds again. A caller may revoke only "
        "keys whose scopes it holds all of."
    ),
    responses=problem_responses(UnauthorizedError, ForbiddenError, NotFoundError),
)
async def revoke_key(
    key_id: uuid.UUID, tenant: KeysManager, session: SessionDep, settings: SettingsDep
) -> Response:
    async with session.begin():
        await revoke_api_key(
            session,
            tenant_id=tenant.tenant_id,
            key_id=key_id,
            settings=settings,
            caller_scopes=tenant.scopes,
        )
    return Response(status_code=status.HTTP_204_NO_CONTENT)


_KEY_COLUMNS = (
    common.api_keys.c.key_id,
    common.api_keys.c.prefix,
    common.api_keys.c.name,
    common.api_keys.c.scopes,
    common.api_keys.c.created_at,
    common.api_keys.c.last_used_at,
    common.api_keys.c.revoked_at,
)


async def _key_out(
    session: AsyncSession, tenant_id: uuid.UUID, key_id: uuid.UUID
) -> ApiKeyOut:
    row = (
        await session.execute(
            select(*_KEY_COLUMNS).where(
                common.api_keys.c.key_id == key_id,
                common.api_keys.c.tenant_id == tenant_id,
            )
        )
    ).one()
    return ApiKeyOut.model_validate(row._mapping)
