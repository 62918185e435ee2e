"""When to try a failed webhook delivery again."""

import random
from collections.abc import Sequence


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


def parse_retry_after(value: str | None, *, max_seconds: float) -> float | None:
    """Read a Retry-After header given in seconds, capped at `max_seconds`.

    An HTTP-date or a malformed value returns None, so the schedule applies.
    """
    if value is None:
        return None
    try:
        seconds = int(value.strip())
    except ValueError:
        return None
    if seconds < 0:
        return None
    return float(min(seconds, max_seconds))
