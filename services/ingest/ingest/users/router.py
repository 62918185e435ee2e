"""Login, token refresh and logout for people; the tenant's user list; the JWKS."""

import uuid
from datetime import UTC, datetime

from fastapi import APIRouter, Request, Response, status
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from ingest.dependencies import SettingsDep
from ingest.models import User
from ingest.users import lockout, service
from ingest.users.schemas import (
    JwkSet,
    LoginIn,
    RefreshIn,
    TokenOut,
    UserIn,
    UserList,
    UserOut,
    UserPatch,
)
from ingest.users.signing import public_keys
from shared.api import SessionDep, UsersManager
from shared.auth import Tenant
from shared.errors import (
    ConflictError,
    ForbiddenError,
    NotFoundError,
    TooManyRequestsError,
    UnauthorizedError,
    UnprocessableError,
    problem_responses,
)
from shared.permissions import ROLE_SCOPES, Role, scopes_beyond
from shared.rate_limit import RateLimiter, retry_after_header

auth_router = APIRouter(prefix="/auth", tags=["login"])
users_router = APIRouter(prefix="/users", tags=["users"])
jwks_router = APIRouter(tags=["login"])

MAX_USERS_LISTED = 1_000
# Every login attempt from one client address counts against 60 a minute,
# in bursts of 30 (an office behind one NAT shares an address). Failed
# attempts also count per email and address in `lockout.py`.
CLIENT_LOGIN_LIMIT = (60, 30)


def _client_limiter(request: Request) -> RateLimiter:
    limiter: RateLimiter | None = getattr(request.app.state, "login_limiter", None)
    if limiter is None:
        per_minute, burst = CLIENT_LOGIN_LIMIT
        limiter = RateLimiter(per_minute=per_minute, burst=burst)
        request.app.state.login_limiter = limiter
    return limiter


def _client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


async def _check_login_allowed(
    request: Request, session: AsyncSession, email: str
) -> None:
    """Raise 429 with Retry-After while the address or the pair must wait.

    The try is counted as a failure of the pair here, before the password
    is checked; a good password clears the pair afterwards.
    """
    client = _client_address(request)
    wait = _client_limiter(request).retry_after(client)
    if wait is not None:
        raise TooManyRequestsError(
            "too many login attempts from this address; wait as Retry-After "
            "says before trying again",
            retry_after=retry_after_header(wait),
        )
    attempt = await lockout.begin_attempt(session, email, client, now=datetime.now(UTC))
    if attempt.locked_for is not None:
        service.log.warning("auth.login_locked", lock_seconds=attempt.locked_for)
    wait = attempt.wait_seconds
    if wait is not None:
        raise TooManyRequestsError(
            "too many wrong passwords for this email from this address; wait as "
            "Retry-After says, or reset the password with the tenant's "
            "administrator",
            retry_after=retry_after_header(wait),
        )


def _check_role_within_caller(tenant: Tenant, role: Role) -> None:
    """Raise 403 when `role` grants a scope that the caller does not have.

    Roles follow the rule for API key scopes, checked for the role given and
    for a changed user's current role. Without it, a key with only
    users:manage could create a tenant administrator, or disable one.
    """
    beyond = scopes_beyond(ROLE_SCOPES[role], tenant.scopes)
    if beyond:
        service.log.info(
            "users.role_beyond_caller",
            tenant_id=str(tenant.tenant_id),
            caller=tenant.caller,
            role=role.value,
            missing=beyond,
        )
        raise ForbiddenError(
            f"the role {role.value} grants {', '.join(beyond)}, which the caller "
            "lacks; only a caller with every scope of a role may give it or "
            "change a user who has it, so ask the tenant's administrator",
            missing_scopes=beyond,
        )


def _token_out(pair: service.TokenPair) -> TokenOut:
    return TokenOut(
        access_token=pair.access_token,
        expires_in=pair.expires_in,
        refresh_token=pair.refresh_token,
        refresh_expires_in=pair.refresh_expires_in,
        user_id=pair.user.user_id,
        tenant_id=pair.user.tenant_id,
        role=Role(pair.user.role),
    )


@auth_router.post(
    "/login",
    summary="Log in with email and password; get an access and a refresh token",
    description=(
        "Send the access token as `Authorization: Bearer <token>` to every "
        "service. It lasts INGEST_ACCESS_TOKEN_MINUTES (15); swap the refresh "
        "token at POST /auth/refresh before then. Five wrong passwords for "
        "one email from one address within 30 s lock that pair out for 30 s, "
        "twice as long on each repeat (at most 15 min); the answer is a 429 "
        "with Retry-After."
    ),
    responses=problem_responses(UnauthorizedError, TooManyRequestsError),
)
async def login(
    body: LoginIn, request: Request, session: SessionDep, settings: SettingsDep
) -> TokenOut:
    await _check_login_allowed(request, session, body.email)
    # A wrong password raises here: the try was already counted as a failure.
    async with session.begin():
        pair = await service.login(
            session,
            settings,
            email=body.email,
            password=body.password,
            now=datetime.now(UTC),
        )
    await lockout.clear(session, body.email, _client_address(request))
    return _token_out(pair)


@auth_router.post(
    "/refresh",
    summary="Swap a refresh token, once, for a new access and refresh token",
    responses=problem_responses(UnauthorizedError),
)
async def refresh(
    body: RefreshIn, session: SessionDep, settings: SettingsDep
) -> TokenOut:
    now = datetime.now(UTC)
    try:
        async with session.begin():
            pair = await service.refresh(
                session, settings, refresh_token=body.refresh_token, now=now
            )
    except service.RefreshTokenReusedError as reused:
        async with session.begin():
            await service.revoke_family(session, reused.family_id, now=now)
        service.log.warning(
            "auth.refresh_token_reused",
            user_id=str(reused.user_id),
            family_id=str(reused.family_id),
        )
        raise UnauthorizedError(service.REUSED_DETAIL) from None
    return _token_out(pair)


@auth_router.post(
    "/logout",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="End the session of a refresh token",
    description="The access token already issued stays valid until it expires.",
)
async def logout(body: RefreshIn, session: SessionDep) -> Response:
    async with session.begin():
        await service.logout(
            session, refresh_token=body.refresh_token, now=datetime.now(UTC)
        )
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@jwks_router.get(
    "/.well-known/jwks.json",
    summary="The public keys that verify people's access tokens (JWKS)",
)
async def jwks(session: SessionDep) -> JwkSet:
    async with session.begin():
        keys = await public_keys(session, now=datetime.now(UTC))
    return JwkSet(keys=keys)


@users_router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    summary="Add a person to the tenant with a role",
    responses=problem_responses(
        UnauthorizedError, ForbiddenError, ConflictError, UnprocessableError
    ),
)
async def create_user(
    body: UserIn, tenant: UsersManager, session: SessionDep
) -> UserOut:
    _check_role_within_caller(tenant, body.role)
    async with session.begin():
        user = await service.create_user(
            session,
            tenant_id=tenant.tenant_id,
            email=body.email,
            name=body.name,
            role=body.role,
            password=body.password,
            now=datetime.now(UTC),
        )
    return UserOut.model_validate(user, from_attributes=True)


@users_router.get(
    "",
    summary="The tenant's users",
    responses=problem_responses(UnauthorizedError, ForbiddenError),
)
async def list_users(tenant: UsersManager, session: SessionDep) -> UserList:
    async with session.begin():
        users = (
            await session.scalars(
                select(User)
                .where(User.tenant_id == tenant.tenant_id)
                .order_by(User.created_at, User.user_id)
                .limit(MAX_USERS_LISTED)
            )
        ).all()
    return UserList(
        items=[UserOut.model_validate(u, from_attributes=True) for u in users]
    )


@users_router.patch(
    "/{user_id}",
    summary="Change a user's role, or disable or enable the user",
    description=(
        "Disabling ends the user's sessions at once; an access token already "
        "issued stays valid until it expires (INGEST_ACCESS_TOKEN_MINUTES)."
    ),
    responses=problem_responses(UnauthorizedError, ForbiddenError, NotFoundError),
)
async def change_user(
    user_id: uuid.UUID,
    body: UserPatch,
    tenant: UsersManager,
    session: SessionDep,
) -> UserOut:
    now = datetime.now(UTC)
    if body.role is not None:
        _check_role_within_caller(tenant, body.role)
    async with session.begin():
        user = await session.scalar(
            select(User)
            .where(User.user_id == user_id, User.tenant_id == tenant.tenant_id)
            .with_for_update()
        )
        if user is None:
            raise NotFoundError(f"user {user_id} not found")
        # A caller also may not demote or disable a user with wider access.
        _check_role_within_caller(tenant, Role(user.role))
        if body.role is not None:
            user.role = body.role.value
            await service.revoke_user_sessions(session, user.user_id, now=now)
        if body.disabled is True and user.disabled_at is None:
            user.disabled_at = now
            await service.revoke_user_sessions(session, user.user_id, now=now)
        if body.disabled is False:
            user.disabled_at = None
    return UserOut.model_validate(user, from_attributes=True)
