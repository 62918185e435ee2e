"""FastAPI dependencies every service uses: session, runtime, callers."""

from collections.abc import AsyncIterator
from typing import Annotated

import structlog
from fastapi import Depends, Header, Request, Security
from fastapi.security import (
    APIKeyHeader,
    HTTPAuthorizationCredentials,
    HTTPBearer,
    SecurityScopes,
)
from sqlalchemy.ext.asyncio import AsyncSession

from shared.auth import (
    Agent,
    Tenant,
    authenticate_api_key,
    authenticate_user_token,
    verify_agent_token,
)
from shared.errors import ForbiddenError, TooManyRequestsError, UnauthorizedError
from shared.permissions import Scope, scopes_help
from shared.rate_limit import RateLimiter, retry_after_header
from shared.runtime import ServiceRuntime
from shared.tenancy import use_agent, use_tenant
from shared.tokens import looks_like_jwt

log = structlog.get_logger(__name__)


async def get_runtime(request: Request) -> ServiceRuntime:
    # Async, so FastAPI calls it on the event loop instead of handing it to a
    # worker thread on every request.
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
    name="X-API-Key",
    auto_error=False,
    description=(
        "A tenant's API key, ck_... Each operation lists the scope it needs; "
        "the scopes are:\n\n" + scopes_help()
    ),
)
_bearer = HTTPBearer(
    auto_error=False,
    description=(
        "A tenant's API key, a person's access token from POST /auth/login on "
        "ingest, or an agent's token."
    ),
)
ApiKeyHeader = Annotated[str | None, Depends(_api_key_header)]
BearerCredentials = Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]


async def get_current_tenant(
    required: SecurityScopes,
    request: Request,
    runtime: RuntimeDep,
    x_api_key: ApiKeyHeader,
    bearer: BearerCredentials,
) -> Tenant:
    """Authenticate the caller's API key and check that it has the route's scopes."""
    reject_two_credentials(request)
    credential = x_api_key or (bearer.credentials if bearer else None)
    if credential and not x_api_key and looks_like_jwt(credential):
        tenant = await authenticate_user_token(
            runtime.sessionmaker, runtime.tables, credential
        )
        _enforce_limit(runtime.api_key_limiter, tenant.caller, "user")
    else:
        tenant = await authenticate_api_key(
            runtime.sessionmaker, runtime.tables, credential
        )
        _enforce_limit(runtime.api_key_limiter, tenant.caller, "API key")
    # Read by the error handlers, so that a 404 names who asked (see errors.py).
    request.state.caller = tenant.caller
    request.state.tenant_id = str(tenant.tenant_id)
    # The rest of the request's transactions see this tenant's rows only.
    use_tenant(tenant.tenant_id)
    missing = sorted(set(required.scopes) - {scope.value for scope in tenant.scopes})
    if missing:
        log.info(
            "request.scope_missing",
            tenant_id=str(tenant.tenant_id),
            caller=tenant.caller,
            missing=missing,
        )
        raise ForbiddenError(_forbidden_detail(tenant, missing), missing_scopes=missing)
    return tenant


def reject_two_credentials(request: Request) -> None:
    """Refuse a request that carries more than one credential.

    Served with one of them, a client that sent two by mistake (an SDK or a
    proxy adding its own header) would act as another caller without a word.
    """
    keys = request.headers.getlist("x-api-key")
    bearers = request.headers.getlist("authorization")
    if len(keys) + len(bearers) > 1:
        sent = ["X-API-Key"] * len(keys) + ["Authorization"] * len(bearers)
        raise UnauthorizedError(
            f"the request carries {len(sent)} credentials ({', '.join(sent)}); "
            "send exactly one: an API key, a person's access token or an "
            "agent's token"
        )


def _forbidden_detail(tenant: Tenant, missing: list[str]) -> str:
    needed = ", ".join(missing)
    if tenant.role is not None:
        return (
            f"the role {tenant.role.value} lacks the scope {needed} that this "
            "endpoint needs; ask the tenant's administrator"
        )
    return (
        f"this API key lacks the scope {needed} that this endpoint needs; ask "
        "the tenant's administrator for a key with it (POST /api-keys on ingest)"
    )


# Any valid key of the tenant; every endpoint should name its scope instead.
CurrentTenant = Annotated[Tenant, Depends(get_current_tenant)]


# A tenant caller whose key has one scope. The scope lands in the
# operation's security requirement in the OpenAPI document, so integrators
# see what each endpoint needs.
AccountsReader = Annotated[
    Tenant, Security(get_current_tenant, scopes=[Scope.ACCOUNTS_READ])
]
AccountsWriter = Annotated[
    Tenant, Security(get_current_tenant, scopes=[Scope.ACCOUNTS_WRITE])
]
CampaignsReader = Annotated[
    Tenant, Security(get_current_tenant, scopes=[Scope.CAMPAIGNS_READ])
]
CampaignsWriter = Annotated[
    Tenant, Security(get_current_tenant, scopes=[Scope.CAMPAIGNS_WRITE])
]
PaymentsWriter = Annotated[
    Tenant, Security(get_current_tenant, scopes=[Scope.PAYMENTS_WRITE])
]
ResultsReader = Annotated[
    Tenant, Security(get_current_tenant, scopes=[Scope.RESULTS_READ])
]
VisitsReviewer = Annotated[
    Tenant, Security(get_current_tenant, scopes=[Scope.VISITS_REVIEW])
]
SettingsReader = Annotated[
    Tenant, Security(get_current_tenant, scopes=[Scope.SETTINGS_READ])
]
SettingsWriter = Annotated[
    Tenant, Security(get_current_tenant, scopes=[Scope.SETTINGS_WRITE])
]
WebhooksManager = Annotated[
    Tenant, Security(get_current_tenant, scopes=[Scope.WEBHOOKS_MANAGE])
]
KeysManager = Annotated[
    Tenant, Security(get_current_tenant, scopes=[Scope.KEYS_MANAGE])
]
AuditReader = Annotated[Tenant, Security(get_current_tenant, scopes=[Scope.AUDIT_READ])]
UsersManager = Annotated[
    Tenant, Security(get_current_tenant, scopes=[Scope.USERS_MANAGE])
]


async def get_current_agent(
    request: Request, runtime: RuntimeDep, bearer: BearerCredentials
) -> Agent:
    reject_two_credentials(request)
    secret = runtime.settings.agent_token_secret.get_secret_value()
    agent = verify_agent_token(bearer.credentials if bearer else None, secret=secret)
    request.state.caller = f"agent:{agent.agent_id}"
    # An agent serves many tenants' visits: its requests see every tenant's
    # rows, and the agent policies narrow the tables of agents' work to the
    # rows it holds, behind the queries' own agent filter.
    use_agent(agent.agent_id)
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
