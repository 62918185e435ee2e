"""FastAPI dependencies every service uses: session, runtime, callers."""

from collections.abc import AsyncIterator
from typing import Annotated

import structlog
from fastapi import Depends, Header, Request
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.ext.asyncio import AsyncSession

from shared.auth import Agent, Tenant, authenticate_api_key, verify_agent_token
from shared.errors import TooManyRequestsError
from shared.rate_limit import RateLimiter, retry_after_header
from shared.runtime import ServiceRuntime

log = structlog.get_logger(__name__)


def get_runtime(request: Request) -> ServiceRuntime:
    runtime: ServiceRuntime = request.app.state.runtime
    return runtime


RuntimeDep = Annotated[ServiceRuntime, Depends(get_runtime)]


async def get_session(runtime: RuntimeDep) -> AsyncIterator[AsyncSession]:
    """Yield one session per request; service code opens the transaction."""
    async with runtime.sessionmaker() as session:
        yield session


SessionDep = Annotated[AsyncSession, Depends(get_session)]


# Declared as security schemes so the OpenAPI document and /docs show how
# to authenticate; auto_error=False leaves the 401 to our own problem errors.
_api_key_header = APIKeyHeader(
    name="X-API-Key", auto_error=False, description="A tenant's API key, ck_..."
)
_bearer = HTTPBearer(
    auto_error=False,
    description="A tenant's API key, or an agent's token, as a bearer token.",
)
ApiKeyHeader = Annotated[str | None, Depends(_api_key_header)]
BearerCredentials = Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]


async def get_current_tenant(
    runtime: RuntimeDep, x_api_key: ApiKeyHeader, bearer: BearerCredentials
) -> Tenant:
    key = x_api_key or (bearer.credentials if bearer else None)
    tenant = await authenticate_api_key(runtime.sessionmaker, runtime.tables, key)
    _enforce_limit(runtime.api_key_limiter, f"key:{tenant.key_id}", "API key")
    return tenant


CurrentTenant = Annotated[Tenant, Depends(get_current_tenant)]


async def get_current_agent(runtime: RuntimeDep, bearer: BearerCredentials) -> Agent:
    secret = runtime.settings.agent_token_secret.get_secret_value()
    agent = verify_agent_token(bearer.credentials if bearer else None, secret=secret)
    _enforce_limit(runtime.agent_limiter, f"agent:{agent.agent_id}", "agent")
    return agent


def _enforce_limit(limiter: RateLimiter, caller: str, who: str) -> None:
    """Raise a 429 with Retry-After when `caller` is over its limit.

    Checked after authentication, so a caller with a bad key or token gets its
    401 and never uses up another caller's allowance.
    """
    wait = limiter.retry_after(caller)
    if wait is None:
        return
    log.warning("request.rate_limited", caller=caller, retry_after_s=round(wait, 2))
    raise TooManyRequestsError(
        f"this {who} sent more than {limiter.per_minute} requests per minute "
        f"(bursts of {limiter.burst}); wait {retry_after_header(wait)} s as "
        "Retry-After says, then send fewer requests",
        retry_after=retry_after_header(wait),
        limit_per_minute=limiter.per_minute,
    )


CurrentAgent = Annotated[Agent, Depends(get_current_agent)]
IdempotencyKey = Annotated[str | None, Header(alias="Idempotency-Key")]
