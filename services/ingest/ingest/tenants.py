"""Tenants and their integrator API keys. Ingest owns both and publishes them."""

import re
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from ingest.models import common
from shared.auth import NewApiKey, generate_api_key
from shared.errors import NotFoundError
from shared.events.payloads import ApiKeyCreated, TenantCreated
from shared.outbox import add_event
from shared.schemas import currency_problem
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
    api_key = await create_api_key(session, tenant_id=tenant_id, settings=settings)
    return CreatedTenant(tenant_id=tenant_id, name=name, api_key=api_key)


async def create_api_key(
    session: AsyncSession, *, tenant_id: uuid.UUID, settings: ServiceSettings
) -> NewApiKey:
    exists = await session.scalar(
        select(common.tenants.c.tenant_id).where(
            common.tenants.c.tenant_id == tenant_id
        )
    )
    if exists is None:
        raise NotFoundError(f"tenant {tenant_id} not found")
    api_key = generate_api_key(uuid.uuid4())
    now = datetime.now(UTC)
    await session.execute(
        insert(common.api_keys).values(
            key_id=api_key.key_id,
            tenant_id=tenant_id,
            prefix=api_key.prefix,
            key_hash=api_key.key_hash,
            created_at=now,
        )
    )
    payload = ApiKeyCreated(
        tenant_id=tenant_id,
        key_id=api_key.key_id,
        prefix=api_key.prefix,
        key_hash=api_key.key_hash,
        created_at=now,
    )
    await add_event(session, common, payload, source=SOURCE, settings=settings)
    return api_key
