"""Integrator API keys and agent tokens.

API keys belong to a tenant. Ingest creates them and publishes only their
SHA-256 digest on `tenants.v1`; every other service keeps a copy of the
digests in its own schema (see `tenant_directory_handlers`). A key has 256
bits of randomness, so a plain SHA-256 digest is safe to store: there is no
password to guess.

Agents belong to the platform. Their tokens are JWTs (HS256) carrying the
agent id as `sub` and no tenant, signed with AGENT_TOKEN_SECRET.
"""

import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from uuid import UUID

import jwt
from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from shared.errors import UnauthorizedError
from shared.events import Envelope
from shared.events.payloads import (
    ApiKeyCreated,
    ApiKeyRevoked,
    SigningKeyPublished,
    SigningKeyRetired,
    TenantCreated,
)
from shared.permissions import ALL_SCOPES, ROLE_SCOPES, Role, Scope
from shared.tables import CommonTables
from shared.tokens import explain_token_error, token_key_id, verify_user_token

API_KEY_PREFIX = "ck_"
AGENT_TOKEN_AUDIENCE = "campo-agent"
AGENT_TOKEN_TTL = timedelta(days=30)
# `last_used_at` is written at most once a minute per key: a write on every
# request would turn each read into a write.
LAST_USED_PRECISION = timedelta(minutes=1)
SCOPE_VALUES = frozenset(scope.value for scope in Scope)


@dataclass(frozen=True)
class NewApiKey:
    key_id: UUID
    prefix: str
    key: str
    key_hash: str


@dataclass(frozen=True)
class Tenant:
    """A tenant's caller: an integration's API key, or a person logged in.

    `key_id` is the API key's id, or the user's id for a person, whose
    scopes come from the role.
    """

    tenant_id: UUID
    key_id: UUID
    scopes: frozenset[Scope] = ALL_SCOPES
    role: Role | None = None
    # For a person: when the access token stops being accepted. A key has no
    # end of its own; it lasts until revoked.
    usable_until: datetime | None = None

    @property
    def caller(self) -> str:
        return f"user:{self.key_id}" if self.role else f"key:{self.key_id}"


@dataclass(frozen=True)
class Agent:
    agent_id: UUID


def hash_api_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def generate_api_key(key_id: UUID) -> NewApiKey:
    """Make a key of the form ck_<8 visible chars>_<43 secret chars>."""
    visible = secrets.token_hex(4)
    key = f"{API_KEY_PREFIX}{visible}_{secrets.token_urlsafe(32)}"
    return NewApiKey(
        key_id=key_id,
        prefix=f"{API_KEY_PREFIX}{visible}",
        key=key,
        key_hash=hash_api_key(key),
    )


async def authenticate_api_key(
    sessionmaker: async_sessionmaker[AsyncSession],
    tables: CommonTables,
    key: str | None,
) -> Tenant:
    """Return the tenant that owns an API key, or raise 401."""
    if not key:
        raise UnauthorizedError(
            "missing API key: send it as 'Authorization: Bearer <key>' or 'X-API-Key'"
        )
    api_keys = tables.api_keys
    async with sessionmaker() as session, session.begin():
        row = (
            await session.execute(
                select(
                    api_keys.c.key_id,
                    api_keys.c.tenant_id,
                    api_keys.c.scopes,
                    api_keys.c.last_used_at,
                ).where(
                    api_keys.c.key_hash == hash_api_key(key),
                    api_keys.c.revoked_at.is_(None),
                )
            )
        ).first()
        if row is None:
            raise UnauthorizedError(
                "invalid or revoked API key; ask the platform operator for a new one"
            )
        now = datetime.now(UTC)
        if row.last_used_at is None or now - row.last_used_at > LAST_USED_PRECISION:
            await session.execute(
                update(api_keys)
                .where(api_keys.c.key_id == row.key_id)
                .values(last_used_at=now)
            )
    return Tenant(
        tenant_id=row.tenant_id,
        key_id=row.key_id,
        scopes=frozenset(Scope(s) for s in row.scopes if s in SCOPE_VALUES),
    )


async def authenticate_user_token(
    sessionmaker: async_sessionmaker[AsyncSession], tables: CommonTables, token: str
) -> Tenant:
    """Return the tenant caller a person's access token names, or raise 401."""
    kid = token_key_id(token)
    keys = tables.signing_keys
    async with sessionmaker() as session, session.begin():
        row = (
            await session.execute(
                select(keys.c.public_jwk, keys.c.retired_at).where(keys.c.kid == kid)
            )
        ).first()
    if row is None or (
        row.retired_at is not None and row.retired_at <= datetime.now(UTC)
    ):
        raise UnauthorizedError(
            "invalid access token: its signing key is unknown or retired; log in "
            "again at POST /auth/login"
        )
    claims = verify_user_token(token, row.public_jwk)
    return Tenant(
        tenant_id=claims.tenant_id,
        key_id=claims.user_id,
        scopes=ROLE_SCOPES[claims.role],
        role=claims.role,
        usable_until=claims.usable_until,
    )


def issue_agent_token(
    agent_id: UUID, *, secret: str, ttl: timedelta = AGENT_TOKEN_TTL
) -> str:
    now = datetime.now(UTC)
    claims = {
        "sub": str(agent_id),
        "role": "agent",
        "aud": AGENT_TOKEN_AUDIENCE,
        "iat": now,
        "exp": now + ttl,
    }
    return jwt.encode(claims, secret, algorithm="HS256")


# An agent's app sends the same token on every request. A verified token is
# kept with its expiry, so its signature is checked once: about 0.15 ms of
# CPU a request, by a profile. A refused token is never kept.
VERIFIED_AGENT_TOKENS_MAX = 4096
_verified_agent_tokens: dict[tuple[str, str], tuple[Agent, float]] = {}


def verify_agent_token(token: str | None, *, secret: str) -> Agent:
    if not token:
        raise UnauthorizedError(
            "missing agent token: send 'Authorization: Bearer <token>'"
        )
    cached = _verified_agent_tokens.get((secret, token))
    if cached is not None:
        agent, expires_at = cached
        # PyJWT's own rule: a token expires at its `exp`, with no leeway.
        if datetime.now(UTC).timestamp() < expires_at:
            return agent
        del _verified_agent_tokens[(secret, token)]
    agent, expires_at = _decode_agent_token(token, secret=secret)
    if len(_verified_agent_tokens) >= VERIFIED_AGENT_TOKENS_MAX:
        _verified_agent_tokens.clear()
    _verified_agent_tokens[(secret, token)] = (agent, expires_at)
    return agent


def _decode_agent_token(token: str, *, secret: str) -> tuple[Agent, float]:
    """Check the token's signature and claims; return the agent and `exp`."""
    try:
        claims = jwt.decode(
            token,
            secret,
            algorithms=["HS256"],
            audience=AGENT_TOKEN_AUDIENCE,
            options={"require": ["exp", "iat", "sub", "aud"]},
        )
        if claims.get("role") != "agent":
            raise UnauthorizedError("invalid agent token: it is not an agent's token")
        return Agent(agent_id=UUID(claims["sub"])), float(claims["exp"])
    except (jwt.PyJWTError, KeyError, ValueError) as error:
        raise UnauthorizedError(explain_token_error(error, agent=True)) from error


def tenant_directory_handlers(tables: CommonTables) -> dict[type, object]:
    """Handlers that copy tenants and API key digests into a service's schema."""

    async def on_tenant_created(
        session: AsyncSession, envelope: Envelope, payload: TenantCreated
    ) -> None:
        await session.execute(
            insert(tables.tenants)
            .values(
                tenant_id=payload.tenant_id,
                name=payload.name,
                country=payload.country,
                currency=payload.currency,
                created_at=payload.created_at,
            )
            .on_conflict_do_nothing()
        )

    async def on_api_key_created(
        session: AsyncSession, envelope: Envelope, payload: ApiKeyCreated
    ) -> None:
        await session.execute(
            insert(tables.api_keys)
            .values(
                key_id=payload.key_id,
                tenant_id=payload.tenant_id,
                prefix=payload.prefix,
                key_hash=payload.key_hash,
                created_at=payload.created_at,
                name=payload.name,
                scopes=payload.scopes,
            )
            .on_conflict_do_nothing()
        )

    async def on_api_key_revoked(
        session: AsyncSession, envelope: Envelope, payload: ApiKeyRevoked
    ) -> None:
        # Both events share the tenant's partition, so the key's row exists.
        await session.execute(
            update(tables.api_keys)
            .where(
                tables.api_keys.c.key_id == payload.key_id,
                tables.api_keys.c.tenant_id == payload.tenant_id,
                tables.api_keys.c.revoked_at.is_(None),
            )
            .values(revoked_at=payload.revoked_at)
        )

    async def on_signing_key_published(
        session: AsyncSession, envelope: Envelope, payload: SigningKeyPublished
    ) -> None:
        await session.execute(
            insert(tables.signing_keys)
            .values(
                kid=payload.kid,
                public_jwk=payload.public_jwk,
                created_at=payload.created_at,
            )
            .on_conflict_do_nothing()
        )

    async def on_signing_key_retired(
        session: AsyncSession, envelope: Envelope, payload: SigningKeyRetired
    ) -> None:
        await session.execute(
            update(tables.signing_keys)
            .where(tables.signing_keys.c.kid == payload.kid)
            .values(retired_at=payload.retired_at)
        )

    return {
        TenantCreated: on_tenant_created,
        ApiKeyCreated: on_api_key_created,
        ApiKeyRevoked: on_api_key_revoked,
        SigningKeyPublished: on_signing_key_published,
        SigningKeyRetired: on_signing_key_retired,
    }
