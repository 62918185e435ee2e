"""When to try a failed webhook delivery again."""

import random
from collections.abc import Sequence
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime


def retry_delay_seconds(
    attempt_number: int,
    schedule: Sequence[float],
    *,
    jitter_ratio: float,
    rng: random.Random | None = None,
) -> float | None:
    """Return the delay after failed attempt `attempt_number` (1-based).

    Attempt n is followed by schedule[n - 1] seconds, spread by ±jitter_ratio
    so that receivers that failed together are not retried together. Return
    None when the schedule is exhausted and the delivery has failed.
    """
    if attempt_number < 1 or attempt_number > len(schedule):
        return None
    spread = (rng or random).uniform(1 - jitter_ratio, 1 + jitter_ratio)
    return schedule[attempt_number - 1] * spread


def parse_retry_after(
    value: str | None, *, max_seconds: float, now: datetime | None = None
) -> float | None:
    """Read a Retry-After header, in seconds or as an HTTP date, capped.

    A date in the past gives 0; a malformed value returns None, so the
    schedule applies.
    """
    if value is None or not value.strip():
        return None
    text = value.strip()
    if text.isdigit():
        return float(min(int(text), max_seconds))
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    seconds = (when - (now or datetime.now(UTC))).total_seconds()
    return float(min(max(seconds, 0.0), max_seconds))
