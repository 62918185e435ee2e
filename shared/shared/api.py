"""FastAPI dependencies every service uses: session, runtime, callers."""

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Header, Request
from sqlalchemy.ext.asyncio import AsyncSession

from shared.auth import (
    Agent,
    Tenant,
    authenticate_api_key,
    bearer_token,
    verify_agent_token,
)
from shared.runtime import ServiceRuntime


def get_runtime(request: Request) -> ServiceRuntime:
    runtime: ServiceRuntime = request.app.state.runtime
    return runtime


RuntimeDep = Annotated[ServiceRuntime, Depends(get_runtime)]


async def get_session(runtime: RuntimeDep) -> AsyncIterator[AsyncSession]:
    """Yield one session per request; service code opens the transaction."""
    async with runtime.sessionmaker() as session:
        yield session


SessionDep = Annotated[AsyncSession, Depends(get_session)]


async def get_current_tenant(
    runtime: RuntimeDep,
    authorization: Annotated[str | None, Header()] = None,
    x_api_key: Annotated[str | None, Header()] = None,
) -> Tenant:
    key = x_api_key or bearer_token(authorization)
    return await authenticate_api_key(runtime.sessionmaker, runtime.tables, key)


CurrentTenant = Annotated[Tenant, Depends(get_current_tenant)]


async def get_current_agent(
    runtime: RuntimeDep,
    authorization: Annotated[str | None, Header()] = None,
) -> Agent:
    secret = runtime.settings.agent_token_secret.get_secret_value()
    return verify_agent_token(bearer_token(authorization), secret=secret)


CurrentAgent = Annotated[Agent, Depends(get_current_agent)]
IdempotencyKey = Annotated[str | None, Header(alias="Idempotency-Key")]
