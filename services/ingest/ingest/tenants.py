"""Tenants and their integrator API keys. Ingest owns both and publishes them."""

import re
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from ingest.models import common
from shared.auth import NewApiKey, generate_api_key
from shared.errors import ForbiddenError, NotFoundError
from shared.events.payloads import ApiKeyCreated, ApiKeyRevoked, TenantCreated
from shared.outbox import add_event
from shared.permissions import ALL_SCOPES, Scope, stored_scopes
from shared.schemas import currency_problem, is_visible_char
from shared.settings import ServiceSettings

SOURCE = "/ingest"
MAX_NAME_CHARS = 200
COUNTRY_CODE = re.compile(r"^[A-Z]{2}$")


@dataclass(frozen=True)
class CreatedTenant:
    tenant_id: uuid.UUID
    name: str
    api_key: NewApiKey


async def create_tenant(
    session: AsyncSession,
    *,
    name: str,
    country: str,
    currency: str,
    settings: ServiceSettings,
) -> CreatedTenant:
    """Create a tenant and its first API key in the caller's transaction.

    Raises ValueError for a blank name or a malformed country or currency.
    """
    name = " ".join(name.split())
    if not name or len(name) > MAX_NAME_CHARS:
        raise ValueError(f"tenant name must be 1 to {MAX_NAME_CHARS} characters")
    if not any(is_visible_char(char) for char in name):
        raise ValueError(
            "tenant name shows no visible character (only invisible ones such "
            "as the zero-width space U+200B); give a visible name"
        )
    if not COUNTRY_CODE.fullmatch(country):
        raise ValueError(f"country {country!r} is not an ISO 3166-1 code such as MX")
    problem = currency_problem(currency)
    if problem is not None:
        raise ValueError(f"currency {problem}")
    tenant_id = uuid.uuid4()
    now = datetime.now(UTC)
    await session.execute(
        insert(common.tenants).values(
            tenant_id=tenant_id,
            name=name,
            country=country,
            currency=currency,
            created_at=now,
        )
    )
    payload = TenantCreated(
        tenant_id=tenant_id,
        name=name,
        country=country,
        currency=currency,
        created_at=now,
    )
    await add_event(session, common, payload, source=SOURCE, settings=settings)
    # The tenant's first key is its administrator's: it may mint the others.
    api_key = await create_api_key(
        session,
        tenant_id=tenant_id,
        settings=settings,
        name="administrator",
        scopes=ALL_SCOPES,
    )
    return CreatedTenant(tenant_id=tenant_id, name=name, api_key=api_key)


async def create_api_key(
    session: AsyncSession,
    *,
    tenant_id: uuid.UUID,
    settings: ServiceSettings,
    name: str | None = None,
    scopes: frozenset[Scope] = ALL_SCOPES,
) -> NewApiKey:
    """Store a new key's digest and publish it; the key itself is never stored."""
    exists = await session.scalar(
        select(common.tenants.c.tenant_id).where(
            common.tenants.c.tenant_id == tenant_id
        )
    )
    if exists is None:
        raise NotFoundError(f"tenant {tenant_id} not found")
    api_key = generate_api_key(uuid.uuid4())
    now = datetime.now(UTC)
    scope_names = stored_scopes(scopes)
    await session.execute(
        insert(common.api_keys).values(
            key_id=api_key.key_id,
            tenant_id=tenant_id,
            prefix=api_key.prefix,
            key_hash=api_key.key_hash,
            created_at=now,
            name=name,
            scopes=scope_names,
        )
    )
    payload = ApiKeyCreated(
        tenant_id=tenant_id,
        key_id=api_key.key_id,
        prefix=api_key.prefix,
        key_hash=api_key.key_hash,
        created_at=now,
        name=name,
        scopes=scope_names,
    )
    await add_event(session, common, payload, source=SOURCE, settings=settings)
    return api_key


async def revoke_api_key(
    session: AsyncSession,
    *,
    tenant_id: uuid.UUID,
    key_id: uuid.UUID,
    settings: ServiceSettings,
    caller_scopes: frozenset[Scope] = ALL_SCOPES,
) -> datetime:
    """Revoke a tenant's key here and, through the event, in every service.

    Revoking a revoked key returns its first revocation time, so a retried
    request gets the same result. Another tenant's key is not found. A
    caller may revoke only keys whose scopes it holds all of, so a key with
    keys:manage cannot cut off the administrator's wider key.
    """
    keys = common.api_keys
    row = (
        await session.execute(
            select(keys.c.revoked_at, keys.c.scopes)
            .where(keys.c.key_id == key_id, keys.c.tenant_id == tenant_id)
            .with_for_update()
        )
    ).first()
    if row is None:
        raise NotFoundError(f"API key {key_id} not found")
    # Compared by name: a key may hold a scope this version no longer defines.
    beyond = sorted(set(row.scopes) - {scope.value for scope in caller_scopes})
    if beyond:
        raise ForbiddenError(
            f"API key {key_id} has scopes the caller lacks: {', '.join(beyond)}. "
            "A caller may revoke only keys whose scopes it has, so ask the "
            "tenant's administrator",
            missing_scopes=beyond,
        )
    if row.revoked_at is not None:
        return row.revoked_at
    now = datetime.now(UTC)
    await session.execute(
        update(keys).where(keys.c.key_id == key_id).values(revoked_at=now)
    )
    payload = ApiKeyRevoked(tenant_id=tenant_id, key_id=key_id, revoked_at=now)
    await add_event(session, common, payload, source=SOURCE, settings=settings)
    return now
