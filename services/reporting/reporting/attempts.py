"""One webhook attempt: its signed headers, its outcome and what follows it."""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from math import floor

from standardwebhooks.webhooks import Webhook

from reporting.models import DELIVERY_DELIVERED, DELIVERY_FAILED, DELIVERY_PENDING
from reporting.retries import parse_retry_after, retry_delay_seconds

USER_AGENT = "campo-webhooks/0.1"
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})


@dataclass(frozen=True)
class AttemptOutcome:
    status_code: int | None = None
    error: str | None = None
    latency_ms: int = 0
    retry_after_seconds: float | None = None

    @property
    def delivered(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300

    @property
    def gone(self) -> bool:
        return self.status_code == 410


def signed_headers(
    secrets: Sequence[str], msg_id: str, body: str, now: datetime
) -> dict[str, str]:
    """Build the Standard Webhooks headers; every attempt is signed anew.

    During a secret rotation both secrets sign, and the signatures are
    space-separated, so a receiver holding either one verifies the message.
    """
    signature = " ".join(Webhook(secret).sign(msg_id, now, body) for secret in secrets)
    return {
        "webhook-id": msg_id,
        # The library signs the whole seconds, so the header must carry them too.
        "webhook-timestamp": str(floor(now.timestamp())),
        "webhook-signature": signature,
        "content-type": "application/json",
        "user-agent": USER_AGENT,
    }


def classify_response(
    status: int,
    headers: Mapping[str, str],
    latency_ms: int,
    *,
    max_retry_after_seconds: float,
) -> AttemptOutcome:
    """Turn a receiver's response into an outcome; only a 2xx is a delivery."""
    if 200 <= status < 300:
        return AttemptOutcome(status, None, latency_ms)
    if status in REDIRECT_STATUSES:
        error = f"HTTP {status}: redirects are not followed; subscribe the final URL"
        return AttemptOutcome(status, error, latency_ms)
    if status == 410:
        error = "HTTP 410 Gone: the receiver asked to stop; subscription disabled"
        return AttemptOutcome(status, error, latency_ms)
    retry_after = None
    if status == 429:
        retry_after = parse_retry_after(
            headers.get("retry-after"), max_seconds=max_retry_after_seconds
        )
    return AttemptOutcome(status, f"HTTP {status}", latency_ms, retry_after)


def next_step(
    attempt_number: int,
    outcome: AttemptOutcome,
    schedule: Sequence[float],
    *,
    jitter_ratio: float,
) -> tuple[str, float | None]:
    """Return the delivery's new state and, while it stays pending, the retry delay.

    A 429's Retry-After replaces the scheduled delay but still uses up one
    entry of the schedule, so a receiver that keeps returning 429 ends failed.
    """
    if outcome.delivered:
        return DELIVERY_DELIVERED, None
    if outcome.gone:
        return DELIVERY_FAILED, None
    delay = retry_delay_seconds(attempt_number, schedule, jitter_ratio=jitter_ratio)
    if delay is None:
        return DELIVERY_FAILED, None
    if outcome.retry_after_seconds is not None:
        delay = outcome.retry_after_seconds
    return DELIVERY_PENDING, delay
