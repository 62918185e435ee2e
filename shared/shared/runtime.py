"""The parts of a running service: engine, producer, outbox relay and consumers.

Built in the FastAPI lifespan, never at import time, and stopped in reverse
order: consumers first, then the relay, the producer and the engine.
"""

import asyncio
import functools
import re
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager, AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import structlog
from aiokafka import AIOKafkaProducer
from fastapi import APIRouter, Depends, FastAPI
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shared.body_limit import BodyLimitMiddleware
from shared.consumer import BatchHandler, EventConsumer
from shared.db import create_engine, create_sessionmaker
from shared.edges import install_edges
from shared.errors import install_error_handlers
from shared.events import Envelope, Payload
from shared.kafka import create_producer, ensure_topics
from shared.logging import configure_logging
from shared.openapi import install_problem_openapi
from shared.outbox import (
    OutboxRelay,
    OutboxRows,
    add_event,
    add_events,
    outbox_rows,
)
from shared.query_names import reject_unknown_query_parameters
from shared.rate_limit import RateLimiter
from shared.settings import ServiceSettings
from shared.tables import CommonTables
from shared.tenancy import check_app_role, use_platform

log = structlog.get_logger(__name__)

BackgroundTask = Callable[["ServiceRuntime"], Awaitable[None]]
ConsumerFactory = Callable[["ServiceRuntime"], Sequence[EventConsumer]]
# Entered after the runtime starts and before any task runs, and left after
# the tasks stop: a process pool that must exist before the tasks use it.
ResourceFactory = Callable[["ServiceRuntime"], AbstractAsyncContextManager[object]]

SUPERVISOR_MIN_DELAY_SECONDS = 1.0
# Maximum wait for each step of a shutdown: tasks, resources, producer, engine.
SHUTDOWN_TIMEOUT_SECONDS = 20.0
REQUEST_ID_PATTERN = re.compile(r"[A-Za-z0-9._:-]{1,128}")
SUPERVISOR_MAX_DELAY_SECONDS = 30.0


@dataclass
class ServiceRuntime:
    name: str
    settings: ServiceSettings
    tables: CommonTables
    engine: AsyncEngine
    sessionmaker: async_sessionmaker[AsyncSession]
    producer: AIOKafkaProducer
    relay: OutboxRelay
    api_key_limiter: RateLimiter
    agent_limiter: RateLimiter
    state: dict[str, Any] = field(default_factory=dict)

    async def emit(self, session: AsyncSession, payload: Payload) -> Envelope:
        """Add an event to the outbox in the caller's open transaction."""
        return await add_event(
            session,
            self.tables,
            payload,
            source=f"/{self.name}",
            settings=self.settings,
        )

    def outbox_rows(self, payloads: Sequence[Payload]) -> OutboxRows:
        """Bind the events' outbox rows for `outbox_rows_insert`; see there."""
        return outbox_rows(payloads, source=f"/{self.name}", settings=self.settings)

    async def emit_many(
        self, session: AsyncSession, payloads: Sequence[Payload]
    ) -> int:
        """Add many events to the outbox in one statement; return how many."""
        return await add_events(
            session,
            self.tables,
            payloads,
            source=f"/{self.name}",
            settings=self.settings,
        )

    def consumer(
        self,
        *,
        group: str,
        streams: list[str],
        handlers: dict[Any, Any],
        after_commit: Callable[[], None] | None = None,
        batch_handler: BatchHandler | None = None,
    ) -> EventConsumer:
        """Build a consumer whose commits wake the relay, or `after_commit` instead.

        A hook that replaces the relay wake-up should call `relay.notify` too
        when its handlers emit events. With `batch_handler`, the consumer
        applies each fetched batch in one transaction (see `shared.consumer`).
        """
        return EventConsumer(
            group_id=f"{self.name}.{group}",
            streams=streams,
            handlers=handlers,
            sessionmaker=self.sessionmaker,
            tables=self.tables,
            producer=self.producer,
            settings=self.settings,
            after_commit=after_commit or self.relay.notify,
            batch_handler=batch_handler,
        )


def create_service_app(
    *,
    name: str,
    title: str,
    version: str,
    settings: ServiceSettings,
    tables: CommonTables,
    routers: Sequence[APIRouter],
    consumers: ConsumerFactory,
    background: Sequence[BackgroundTask] = (),
    resources: Sequence[ResourceFactory] = (),
    description: str = "",
    body_limits: Mapping[tuple[str, str], int] | None = None,
) -> FastAPI:
    """Build a service's FastAPI app; servers and tasks start in its lifespan.

    Every request body is capped at `settings.max_request_bytes`, except the
    routes in `body_limits`, keyed by (method, path), such as file uploads.
    """

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        configure_logging(service=name, level=settings.log_level)
        runtime = await _start_runtime(name, settings, tables)
        app.state.runtime = runtime
        entered = AsyncExitStack()
        for resource in resources:
            await entered.enter_async_context(resource(runtime))
        runners: list[tuple[str, Callable[[], Awaitable[None]]]] = [
            (f"{name}.relay", runtime.relay.run),
            *[(c.group_id, c.run) for c in consumers(runtime)],
            *[
                (f"{name}.{task.__name__}", functools.partial(task, runtime))
                for task in background
            ],
        ]
        tasks = [
            asyncio.create_task(_supervise(task_name, run), name=task_name)
            for task_name, run in runners
        ]
        log.info("service.started", service=name)
        try:
            yield
        finally:
            for task in tasks:
                task.cancel()
            # The relay is always among the tasks, so the set is never empty.
            _, stuck = await asyncio.wait(tasks, timeout=SHUTDOWN_TIMEOUT_SECONDS)
            if stuck:
                # A task that swallows its cancellation would hold the process
                # forever; stop waiting for it and log which one it was.
                log.error(
                    "service.tasks_not_stopped",
                    service=name,
                    tasks=sorted(task.get_name() for task in stuck),
                )
            await _bounded(entered.aclose(), name, "resources")
            await _bounded(runtime.producer.stop(), name, "producer")
            await _bounded(runtime.engine.dispose(), name, "engine")
            log.info("service.stopped", service=name)

    app = FastAPI(
        title=title,
        version=version,
        description=description,
        lifespan=lifespan,
        dependencies=[Depends(reject_unknown_query_parameters)],
        **docs_pages(settings.environment),
    )
    install_error_handlers(app)
    install_problem_openapi(app)
    # Added first so that it sits inside `RequestContextMiddleware`.
    app.add_middleware(
        BodyLimitMiddleware,
        default_limit=settings.max_request_bytes,
        route_limits=body_limits,
    )
    app.add_middleware(RequestContextMiddleware)
    install_edges(
        app,
        cors_origins=settings.allowed_cors_origins(),
        strict_transport=settings.environment == "production",
    )
    for router in routers:
        app.include_router(router)

    @app.get("/health", tags=["operations"], summary="Liveness and readiness")
    async def health() -> dict[str, str]:
        return {"status": "ok", "service": name}

    return app


def docs_pages(environment: str) -> dict[str, str | None]:
    """Serve /docs and /redoc outside production only.

    The pages load their scripts from a CDN, and an administrator types live
    keys into them; in production integrators read /openapi.json instead.
    """
    if environment == "production":
        return {"docs_url": None, "redoc_url": None}
    return {"docs_url": "/docs", "redoc_url": "/redoc"}


async def _bounded(step: Awaitable[object], service: str, what: str) -> None:
    """Await one shutdown step, giving up after SHUTDOWN_TIMEOUT_SECONDS."""
    try:
        await asyncio.wait_for(step, timeout=SHUTDOWN_TIMEOUT_SECONDS)
    except TimeoutError:
        log.error("service.stop_timed_out", service=service, step=what)


async def _start_runtime(
    name: str, settings: ServiceSettings, tables: CommonTables
) -> ServiceRuntime:
    engine = create_engine(
        settings.database_url,
        pool_size=settings.database_pool_size,
        pre_ping=settings.database_pool_pre_ping,
        role=settings.database_role,
    )
    await check_app_role(engine, schema=name)
    sessionmaker = create_sessionmaker(engine)
    await ensure_topics(settings)
    producer = create_producer(settings)
    await producer.start()
    relay = OutboxRelay(
        sessionmaker=sessionmaker,
        tables=tables,
        producer=producer,
        poll_interval_seconds=settings.outbox_poll_interval_seconds,
    )
    return ServiceRuntime(
        name=name,
        settings=settings,
        tables=tables,
        engine=engine,
        sessionmaker=sessionmaker,
        producer=producer,
        relay=relay,
        api_key_limiter=RateLimiter(
            per_minute=settings.rate_limit_api_key_per_minute,
            burst=settings.rate_limit_api_key_burst,
        ),
        agent_limiter=RateLimiter(
            per_minute=settings.rate_limit_agent_per_minute,
            burst=settings.rate_limit_agent_burst,
        ),
    )


async def _supervise(name: str, run: Callable[[], Awaitable[None]]) -> None:
    """Run a long-lived task and restart it with backoff when it crashes.

    A consumer that loses the broker, or a relay whose database restarts,
    comes back by itself instead of leaving the service half alive.
    """
    # Every supervised task spans tenants: the outbox relay, the consumers,
    # and the background loops (sweeps, webhook delivery, upload jobs,
    # dispatch). Their transactions see every tenant's rows; each handler
    # still filters by the tenant its event or row names.
    use_platform()
    delay = SUPERVISOR_MIN_DELAY_SECONDS
    while True:
        started = time.monotonic()
        try:
            await run()
            return
        except asyncio.CancelledError:
            raise
        except Exception as error:
            if time.monotonic() - started > SUPERVISOR_MAX_DELAY_SECONDS:
                delay = SUPERVISOR_MIN_DELAY_SECONDS
            log.error(
                "service.task_crashed",
                task=name,
                error_type=type(error).__name__,
                error=str(error),
                restart_in_seconds=delay,
            )
            await asyncio.sleep(delay)
            delay = min(delay * 2, SUPERVISOR_MAX_DELAY_SECONDS)


class RequestContextMiddleware:
    """Give each request an id: in its log lines and in `X-Request-ID`.

    A plain ASGI middleware rather than `BaseHTTPMiddleware`, which runs
    the rest of the app in a task group of its own: about 0.5 ms of CPU a
    request, a twentieth of a check-in's.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        sent = Headers(scope=scope).get("x-request-id")
        request_id = _request_id(sent)
        header = (b"x-request-id", request_id.encode())
        started = time.perf_counter()
        status = 0

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = [
                    (name, value)
                    for name, value in message.get("headers", [])
                    if name.lower() != b"x-request-id"
                ]
                message = {**message, "headers": [*headers, header]}
            await send(message)

        structlog.contextvars.bind_contextvars(request_id=request_id)
        try:
            await self.app(scope, receive, send_with_id)
        finally:
            structlog.contextvars.unbind_contextvars("request_id")
        log.debug(
            "request.handled",
            method=scope["method"],
            path=scope["path"],
            status=status,
            duration_ms=round((time.perf_counter() - started) * 1000, 1),
        )


def _request_id(sent: str | None) -> str:
    """Keep a caller's request id only when it is short and plain, else make one.

    The id goes into every log line of the request and back in a header, so
    a long or odd one from a client is replaced rather than echoed.
    """
    if sent and REQUEST_ID_PATTERN.fullmatch(sent):
        return sent
    return uuid.uuid4().hex
