"""The webhook delivery worker, a background task of the reporting app.

A delivery is claimed in a short transaction that counts the attempt and
leases the row (next_attempt_at moves a lease ahead), then the POST runs with
no database session open, and its outcome is stored in a second short
transaction. A worker that dies mid-POST leaves the lease to run out, and
the delivery is tried again under the same webhook-id.
"""

import asyncio
import time
import uuid
from collections import defaultdict
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import httpx
import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from reporting import webhook_repository as store
from reporting.attempts import (
    AttemptOutcome,
    classify_response,
    next_step,
    signed_headers,
)
from reporting.notifier import commit_notifier, wait_for
from reporting.settings import ReportingSettings
from reporting.webhook_health import disable_and_tell_tenant
from reporting.webhook_urls import (
    Resolver,
    UnsafeWebhookURLError,
    check_webhook_url,
    resolve_host,
)
from shared.runtime import ServiceRuntime

log = structlog.get_logger(__name__)

MAX_ERROR_LENGTH = 500
RESOLVER_KEY = "reporting.webhook_resolver"


def require_https(settings: ReportingSettings) -> bool:
    return settings.environment not in ("development", "test")


def host_resolver(runtime: ServiceRuntime) -> Resolver:
    """Return the resolver that webhook URL checks use: DNS unless replaced."""
    return cast(Resolver, runtime.state.get(RESOLVER_KEY, resolve_host))


def use_resolver(
    resolve: Resolver,
) -> Callable[[ServiceRuntime], AbstractAsyncContextManager[object]]:
    """Build a runtime resource that makes every URL check use `resolve`."""

    @asynccontextmanager
    async def installed(runtime: ServiceRuntime) -> AsyncIterator[object]:
        runtime.state[RESOLVER_KEY] = resolve
        yield resolve

    return installed


def signing_secrets(row: Any, now: datetime) -> list[str]:
    """Return the current secret, and the previous one while it has not expired."""
    expires_at = row.previous_secret_expires_at
    if row.previous_secret and expires_at is not None and now < expires_at:
        return [row.secret, row.previous_secret]
    return [row.secret]


class DeliveryWorker:
    def __init__(self, runtime: ServiceRuntime) -> None:
        self._runtime = runtime
        self._settings = cast(ReportingSettings, runtime.settings)
        self._schedule = self._settings.webhook_retry_schedule_seconds
        self._wake = asyncio.Event()
        self._tasks: set[asyncio.Task[None]] = set()
        self._in_flight: dict[uuid.UUID, int] = defaultdict(int)
        self._resolve = host_resolver(runtime)
        self._disable_after = timedelta(
            seconds=self._settings.webhook_disable_after_failing_seconds
        )

    async def run(self) -> None:
        notifier = commit_notifier(self._runtime)
        notifier.add_listener(self._wake.set)
        timeout = httpx.Timeout(self._settings.webhook_timeout_seconds)
        try:
            async with httpx.AsyncClient(
                timeout=timeout, follow_redirects=False, trust_env=False
            ) as client:
                await self._loop(client)
        finally:
            notifier.remove_listener(self._wake.set)
            for task in self._tasks:
                task.cancel()
            await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _loop(self, client: httpx.AsyncClient) -> None:
        while True:
            self._wake.clear()
            try:
                claimed = await self._claim()
            except Exception as error:
                # A database outage: keep in-flight attempts and try again.
                log.warning(
                    "webhook.claim_failed",
                    error_type=type(error).__name__,
                    error=str(error)[:MAX_ERROR_LENGTH],
                )
                claimed = []
            for row in claimed:
                self._in_flight[row.subscription_id] += 1
                task = asyncio.create_task(self._deliver(client, row))
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)
            if not claimed:
                await wait_for(self._wake, self._settings.webhook_poll_interval_seconds)

    async def _claim(self) -> list[Any]:
        free = self._settings.webhook_max_in_flight - len(self._tasks)
        if free <= 0:
            return []
        cap = self._settings.webhook_max_in_flight_per_subscription
        full = {sid for sid, count in self._in_flight.items() if count >= cap}
        async with self._runtime.sessionmaker() as session, session.begin():
            locked = await store.lock_due_deliveries(
                session, skip_subscriptions=full, limit=free
            )
            # Rows over a subscription's cap stay untouched and are unlocked
            # at commit, for a later claim.
            claims: dict[uuid.UUID, int] = defaultdict(int)
            claimed_ids = []
            for row in locked:
                sid = row.subscription_id
                if self._in_flight.get(sid, 0) + claims[sid] < cap:
                    claims[sid] += 1
                    claimed_ids.append(row.delivery_id)
            if not claimed_ids:
                return []
            leased = await store.lease_deliveries(
                session, claimed_ids, self._settings.webhook_lease_seconds
            )
        return list(leased)

    async def _deliver(self, client: httpx.AsyncClient, row: Any) -> None:
        try:
            outcome = await self._attempt(client, row)
            await self._record(row, outcome)
        except asyncio.CancelledError:
            raise
        except Exception:
            # The lease runs out and the delivery is claimed again.
            log.exception(
                "webhook.attempt_crashed",
                delivery_id=str(row.delivery_id),
                attempt=row.attempts,
            )
        finally:
            self._in_flight[row.subscription_id] -= 1
            if self._in_flight[row.subscription_id] <= 0:
                del self._in_flight[row.subscription_id]
            self._wake.set()

    async def _attempt(self, client: httpx.AsyncClient, row: Any) -> AttemptOutcome:
        started = time.monotonic()

        def elapsed_ms() -> int:
            return int((time.monotonic() - started) * 1000)

        try:
            checked = await check_webhook_url(
                row.url,
                allow_loopback=self._settings.webhook_allow_loopback,
                require_https=require_https(self._settings),
                resolve=self._resolve,
            )
        except UnsafeWebhookURLError as error:
            return AttemptOutcome(None, str(error), elapsed_ms())
        now = datetime.now(UTC)
        headers = signed_headers(signing_secrets(row, now), row.msg_id, row.body, now)
        headers["host"] = checked.host_header()
        # The request goes to the address that passed the check. For https the
        # certificate is still verified against the host name, through SNI.
        # NOTE: the tests cover plain http on loopback only, not this https path.
        extensions = {"sni_hostname": checked.host} if checked.scheme == "https" else {}
        seconds = self._settings.webhook_timeout_seconds
        try:
            # httpx's timeout applies to each read; this one bounds the whole
            # attempt, so it ends well inside its lease.
            async with asyncio.timeout(seconds):
                request = client.build_request(
                    "POST",
                    checked.pinned_url(),
                    content=row.body.encode(),
                    headers=headers,
                    extensions=extensions,
                )
                # The body is never read: only the status and headers count.
                response = await client.send(request, stream=True)
                await response.aclose()
        except (TimeoutError, httpx.TimeoutException):
            return AttemptOutcome(None, f"timed out after {seconds:g} s", elapsed_ms())
        except httpx.HTTPError as error:
            message = f"request failed: {type(error).__name__}: {error}"
            return AttemptOutcome(None, message, elapsed_ms())
        return classify_response(
            response.status_code,
            response.headers,
            elapsed_ms(),
            max_retry_after_seconds=max(self._schedule, default=0),
        )

    async def _record(self, row: Any, outcome: AttemptOutcome) -> None:
        state, retry_in = next_step(
            row.attempts,
            outcome,
            self._schedule,
            jitter_ratio=self._settings.webhook_retry_jitter_ratio,
        )
        error = outcome.error[:MAX_ERROR_LENGTH] if outcome.error else None
        now = datetime.now(UTC)
        async with self._runtime.sessionmaker() as session, session.begin():
            # The subscription row is written before any delivery row, the
            # order that disabling and PATCH use too, so two attempts of one
            # subscription wait for each other instead of deadlocking.
            give_up_because = await self._health(session, row, outcome, now)
            await store.insert_attempt(
                session,
                {
                    "tenant_id": row.tenant_id,
                    "delivery_id": row.delivery_id,
                    "subscription_id": row.subscription_id,
                    "attempt_number": row.attempts,
                    "status_code": outcome.status_code,
                    "latency_ms": outcome.latency_ms,
                    "error": error,
                    "attempted_at": now,
                },
            )
            await store.finish_attempt(
                session,
                delivery_id=row.delivery_id,
                attempt_number=row.attempts,
                state=state,
                retry_in_seconds=retry_in,
                status_code=outcome.status_code,
                error=error,
                now=now,
            )
            if give_up_because is not None:
                await self._give_up(session, row, give_up_because, outcome, now)
        log.info(
            "webhook.attempted",
            delivery_id=str(row.delivery_id),
            subscription_id=str(row.subscription_id),
            msg_id=row.msg_id,
            attempt=row.attempts,
            status_code=outcome.status_code,
            state=state,
            retry_in_seconds=retry_in,
        )

    async def _health(
        self, session: AsyncSession, row: Any, outcome: AttemptOutcome, now: datetime
    ) -> str | None:
        """Update the failing streak; return why to disable the subscription, if so.

        A 410 disables at once; other failures only once the streak is too long.
        """
        if outcome.delivered:
            await store.mark_healthy(session, row.subscription_id)
            return None
        since = await store.mark_failing(session, row.subscription_id, now)
        if outcome.gone:
            return "the receiver answered 410 Gone"
        if since is not None and now - since >= self._disable_after:
            return (
                f"every attempt has failed since {since.isoformat()}, "
                f"the last with: {outcome.error}"
            )
        return None

    async def _give_up(
        self,
        session: AsyncSession,
        row: Any,
        reason: str,
        outcome: AttemptOutcome,
        now: datetime,
    ) -> None:
        disabled = await disable_and_tell_tenant(
            session,
            tenant_id=row.tenant_id,
            subscription_id=row.subscription_id,
            reason=reason[:MAX_ERROR_LENGTH],
            now=now,
        )
        if disabled:
            log.warning(
                "webhook.subscription_disabled",
                subscription_id=str(row.subscription_id),
                tenant_id=str(row.tenant_id),
                status_code=outcome.status_code,
            )


async def deliver_webhooks(runtime: ServiceRuntime) -> None:
    await DeliveryWorker(runtime).run()
