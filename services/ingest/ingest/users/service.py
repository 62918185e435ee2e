"""People of a tenant: created by its administrator, logged in with a password.

Login returns a short-lived access token (a JWT signed by `signing.py`) and
a refresh token. A refresh token is used once: it is swapped for a new pair,
and a second use of the same token revokes its whole family, because only a
copy could be used twice.
"""

import hashlib
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

import structlog
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from ingest.models import RefreshToken, User, common
from ingest.settings import IngestSettings
from ingest.users.passwords import hash_password, password_matches, password_problem
from ingest.users.signing import active_signing_key
from shared.errors import (
    ConflictError,
    NotFoundError,
    UnauthorizedError,
    UnprocessableError,
)
from shared.permissions import Role
from shared.tokens import issue_user_token

log = structlog.get_logger(__name__)

REFRESH_TOKEN_PREFIX = "cr_"
INVALID_LOGIN = "invalid email or password"


class RefreshTokenReusedError(Exception):
    """A refresh token used a second time; the caller revokes its family.

    The revocation must outlive the failed request's transaction, so the
    router writes it in a transaction of its own.
    """

    def __init__(self, family_id: uuid.UUID, user_id: uuid.UUID) -> None:
        super().__init__(f"refresh token family {family_id} reused")
        self.family_id = family_id
        self.user_id = user_id


EMAIL_UNAVAILABLE = (
    "this email cannot be given to a new user; use another address, or, if "
    "the person already has a user in this tenant, change that one (GET /users)"
)
REUSED_DETAIL = (
    "this refresh token was used already, so every session started from the "
    "same login is ended; log in again at POST /auth/login"
)


@dataclass(frozen=True)
class TokenPair:
    access_token: str
    expires_in: int
    refresh_token: str
    refresh_expires_in: int
    user: User


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def create_user(
    session: AsyncSession,
    *,
    tenant_id: uuid.UUID,
    email: str,
    name: str,
    role: Role,
    password: str,
    now: datetime,
) -> User:
    """Add a person to a tenant; raise 409 when the email is taken anywhere.

    Emails are unique across tenants because login names no tenant. The 409
    reads the same whether the email belongs to this tenant or another, and
    does not repeat the email, so a tenant learns no more than that the
    address cannot be used.
    """
    problem = password_problem(password, email)
    if problem is not None:
        raise UnprocessableError(problem)
    tenant = await session.scalar(
        select(common.tenants.c.tenant_id).where(
            common.tenants.c.tenant_id == tenant_id
        )
    )
    if tenant is None:
        raise NotFoundError(f"tenant {tenant_id} not found")
    taken = await session.scalar(
        select(User.user_id).where(func.lower(User.email) == email.lower())
    )
    if taken is not None:
        raise ConflictError(EMAIL_UNAVAILABLE)
    user = User(
        user_id=uuid.uuid4(),
        tenant_id=tenant_id,
        email=email,
        name=name,
        role=role.value,
        password_hash=await hash_password(password),
        created_at=now,
    )
    session.add(user)
    await session.flush()
    return user


async def login(
    session: AsyncSession,
    settings: IngestSettings,
    *,
    email: str,
    password: str,
    now: datetime,
) -> TokenPair:
    user = await session.scalar(
        select(User).where(func.lower(User.email) == email.lower())
    )
    matched = await password_matches(user.password_hash if user else None, password)
    if user is None or not matched or user.disabled_at is not None:
        log.info("auth.login_failed", user_id=str(user.user_id) if user else None)
        raise UnauthorizedError(INVALID_LOGIN)
    user.last_login_at = now
    pair = await _issue_pair(session, settings, user, family_id=uuid.uuid4(), now=now)
    log.info("auth.login", user_id=str(user.user_id), tenant_id=str(user.tenant_id))
    return pair


async def refresh(
    session: AsyncSession,
    settings: IngestSettings,
    *,
    refresh_token: str,
    now: datetime,
) -> TokenPair:
    token = await session.scalar(
        select(RefreshToken)
        .where(RefreshToken.token_hash == _digest(refresh_token))
        .with_for_update()
    )
    if token is None or token.revoked_at is not None or token.expires_at <= now:
        raise UnauthorizedError(
            "invalid or expired refresh token; log in again at POST /auth/login"
        )
    if token.used_at is not None:
        raise RefreshTokenReusedError(token.family_id, token.user_id)
    user = await session.get(User, token.user_id)
    if user is None or user.disabled_at is not None:
        raise UnauthorizedError("the user is disabled; ask the tenant's administrator")
    token.used_at = now
    return await _issue_pair(
        session, settings, user, family_id=token.family_id, now=now
    )


async def logout(session: AsyncSession, *, refresh_token: str, now: datetime) -> None:
    """End the session a refresh token belongs to; an unknown token is ignored."""
    family = await session.scalar(
        select(RefreshToken.family_id).where(
            RefreshToken.token_hash == _digest(refresh_token)
        )
    )
    if family is not None:
        await revoke_family(session, family, now=now)


async def revoke_family(
    session: AsyncSession, family_id: uuid.UUID, *, now: datetime
) -> None:
    await session.execute(
        update(RefreshToken)
        .where(RefreshToken.family_id == family_id, RefreshToken.revoked_at.is_(None))
        .values(revoked_at=now)
    )


async def revoke_user_sessions(
    session: AsyncSession, user_id: uuid.UUID, *, now: datetime
) -> None:
    await session.execute(
        update(RefreshToken)
        .where(RefreshToken.user_id == user_id, RefreshToken.revoked_at.is_(None))
        .values(revoked_at=now)
    )


async def _issue_pair(
    session: AsyncSession,
    settings: IngestSettings,
    user: User,
    *,
    family_id: uuid.UUID,
    now: datetime,
) -> TokenPair:
    key = await active_signing_key(session, settings, now=now)
    access_ttl = timedelta(minutes=settings.access_token_minutes)
    refresh_ttl = timedelta(days=settings.refresh_token_days)
    access = issue_user_token(
        key,
        user_id=user.user_id,
        tenant_id=user.tenant_id,
        role=Role(user.role),
        now=now,
        ttl=access_ttl,
    )
    refresh_token = REFRESH_TOKEN_PREFIX + secrets.token_urlsafe(32)
    session.add(
        RefreshToken(
            token_id=uuid.uuid4(),
            user_id=user.user_id,
            tenant_id=user.tenant_id,
            family_id=family_id,
            token_hash=_digest(refresh_token),
            issued_at=now,
            expires_at=now + refresh_ttl,
        )
    )
    await session.flush()
    return TokenPair(
        access_token=access,
        expires_in=int(access_ttl.total_seconds()),
        refresh_token=refresh_token,
        refresh_expires_in=int(refresh_ttl.total_seconds()),
        user=user,
    )
