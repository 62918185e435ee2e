"""The webhook delivery worker: claims due deliveries, POSTs them, records outcomes.

One statement claims a set of due deliveries: it counts an attempt on each
and leases it (next_attempt_at moves a lease ahead). The POSTs run with no
database session open. Their outcomes go to an `OutcomeRecorder`, which
writes all that finished within a few milliseconds in one transaction. A
worker that dies between a POST and that write leaves the lease to run out,
and the delivery is tried again under the same webhook-id.

The worker runs in the API process unless REPORTING_DELIVERY_IN_PROCESS is
false; `campo-reporting deliver` runs it in a process of its own.
"""

import asyncio
import time
import uuid
from collections import defaultdict
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import httpx
import structlog

from reporting import webhook_repository as store
from reporting.attempts import (
    AttemptOutcome,
    classify_response,
    next_step,
    signed_headers,
)
from reporting.notifier import commit_notifier, wait_for
from reporting.outcomes import FinishedAttempt
from reporting.recorder import OutcomeRecorder
from reporting.settings import ReportingSettings
from reporting.webhook_urls import (
    CheckedURL,
    Resolver,
    UnsafeWebhookURLError,
    check_webhook_url,
    resolve_host,
)
from shared.runtime import ServiceRuntime

log = structlog.get_logger(__name__)

MAX_ERROR_LENGTH = 500
MAX_REUSED_BODY_BYTES = 64 * 1024
CLAIM_GATHER_SECONDS = 0.005
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
        self._recorder = OutcomeRecorder(
            runtime.sessionmaker,
            disable_after=timedelta(
                seconds=self._settings.webhook_disable_after_failing_seconds
            ),
        )

    async def run(self) -> None:
        notifier = commit_notifier(self._runtime)
        notifier.add_listener(self._wake.set)
        recording = asyncio.create_task(self._recorder.run())
        try:
            async with self._client() as client:
                await self._loop(client)
        finally:
            notifier.remove_listener(self._wake.set)
            await _cancel_all([*self._tasks, recording])
            # Outcomes already known are written; a POST cut short is not,
            # and its delivery goes again once its lease runs out.
            await self._recorder.flush()

    def _client(self) -> httpx.AsyncClient:
        # Every delivery to one receiver goes to the same pinned address, so
        # kept-alive connections serve the next POSTs without a new handshake.
        max_connections = self._settings.webhook_max_in_flight
        return httpx.AsyncClient(
            timeout=httpx.Timeout(self._settings.webhook_timeout_seconds),
            limits=httpx.Limits(
                max_connections=max_connections,
                max_keepalive_connections=max_connections,
            ),
            follow_redirects=False,
            trust_env=False,
        )

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
            if not claimed or len(claimed) < self._free_slots_before(claimed):
                # Nothing more is due, or the caps hold the rest back: wait
                # for a commit or a finished POST, then for the ones that
                # finish with it, so that one claim serves them all.
                await wait_for(self._wake, self._settings.webhook_poll_interval_seconds)
                await asyncio.sleep(CLAIM_GATHER_SECONDS)

    def _free_slots_before(self, claimed: Sequence[Any]) -> int:
        return self._settings.webhook_max_in_flight - len(self._tasks) + len(claimed)

    async def _claim(self) -> Sequence[Any]:
        free = self._settings.webhook_max_in_flight - len(self._tasks)
        if free <= 0:
            return []
        async with self._runtime.sessionmaker() as session, session.begin():
            return await store.claim_deliveries(
                session,
                in_flight=dict(self._in_flight),
                cap_per_subscription=(
                    self._settings.webhook_max_in_flight_per_subscription
                ),
                limit=free,
                lease_seconds=self._settings.webhook_lease_seconds,
            )

    async def _deliver(self, client: httpx.AsyncClient, row: Any) -> None:
        try:
            outcome = await self._attempt(client, row)
            self._recorder.add(self._finished(row, outcome))
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

        seconds = self._settings.webhook_timeout_seconds
        step = "resolving the receiver's host"
        try:
            # One timeout bounds the whole attempt, the host lookup included,
            # so it ends inside its lease and no other claim sends it again.
            # httpx's own timeout applies to each read only.
            async with asyncio.timeout(seconds):
                try:
                    checked = await check_webhook_url(
                        row.url,
                        allow_loopback=self._settings.webhook_allow_loopback,
                        require_https=require_https(self._settings),
                        resolve=self._resolve,
                    )
                except UnsafeWebhookURLError as error:
                    return AttemptOutcome(None, str(error), elapsed_ms())
                step = "waiting for the receiver"
                response = await self._post(client, row, checked)
        except (TimeoutError, httpx.TimeoutException):
            message = f"timed out after {seconds:g} s {step}"
            return AttemptOutcome(None, message, elapsed_ms())
        except httpx.HTTPError as error:
            message = f"request failed: {type(error).__name__}: {error}"
            return AttemptOutcome(None, message, elapsed_ms())
        return classify_response(
            response.status_code,
            response.headers,
            elapsed_ms(),
            max_retry_after_seconds=max(self._schedule, default=0),
        )

    async def _post(
        self, client: httpx.AsyncClient, row: Any, checked: CheckedURL
    ) -> httpx.Response:
        """Send the signed body to the checked address and read a short reply."""
        now = datetime.now(UTC)
        headers = signed_headers(signing_secrets(row, now), row.msg_id, row.body, now)
        headers["host"] = checked.host_header()
        # The request goes to the address that passed the check. For https the
        # certificate is still verified against the host name, through SNI.
        # NOTE: the tests cover plain http on loopback only, not this https path.
        extensions = {"sni_hostname": checked.host} if checked.scheme == "https" else {}
        request = client.build_request(
            "POST",
            checked.pinned_url(),
            content=row.body.encode(),
            headers=headers,
            extensions=extensions,
        )
        response = await client.send(request, stream=True)
        try:
            await _read_small_body(response)
        finally:
            await response.aclose()
        return response

    def _finished(self, row: Any, outcome: AttemptOutcome) -> FinishedAttempt:
        state, retry_in = next_step(
            row.attempts,
            outcome,
            self._schedule,
            jitter_ratio=self._settings.webhook_retry_jitter_ratio,
        )
        return FinishedAttempt(
            tenant_id=row.tenant_id,
            delivery_id=row.delivery_id,
            subscription_id=row.subscription_id,
            msg_id=row.msg_id,
            attempt_number=row.attempts,
            outcome=outcome,
            state=state,
            retry_in_seconds=retry_in,
            finished_at=datetime.now(UTC),
        )


async def _read_small_body(response: httpx.Response) -> None:
    """Read a short response body to its end, and drop a long one unread.

    Only the status and headers count. A body read to its end lets the
    connection go back to the pool for the next POST; closing a response
    with unread bytes closes its connection too, which a large body costs.
    """
    read = 0
    async for chunk in response.aiter_raw():
        read += len(chunk)
        if read > MAX_REUSED_BODY_BYTES:
            return


async def _cancel_all(tasks: Sequence[asyncio.Task[None]]) -> None:
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


async def deliver_webhooks(runtime: ServiceRuntime) -> None:
    await DeliveryWorker(runtime).run()
