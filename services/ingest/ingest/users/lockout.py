"""Lock out password guessing per email and client address.

Five failed logins for one email from one address within 30 s lock that
pair out for 30 s. Each further lockout of the same pair doubles the wait,
up to 15 minutes. A successful login, or an hour without failures, clears
the pair. The lock holds the pair, not the email, so a stranger who types
wrong passwords for someone else's email locks out only their own address,
and the owner logs in from theirs as usual.

NOTE: the state lives in each ingest process, so N replicas allow N times
the attempts. A shared store (the database or Redis) would close that gap.
"""

import time
from collections.abc import Callable
from dataclasses import dataclass, field

FAILURES_TO_LOCK = 5
FAILURE_WINDOW_SECONDS = 30.0
FIRST_LOCK_SECONDS = 30.0
MAX_LOCK_SECONDS = 15 * 60.0
# After this long without a failure, a pair starts again from the first lock.
FORGET_AFTER_SECONDS = 60 * 60.0
# Past this many pairs, the ones neither locked nor recently failing are dropped.
MAX_TRACKED_PAIRS = 100_000


@dataclass
class _Pair:
    failures: list[float] = field(default_factory=list)
    locks: int = 0
    locked_until: float = 0.0
    last_failure: float = 0.0


@dataclass
class LoginLockout:
    """Failed logins per (email, client address), with a clock to inject."""

    clock: Callable[[], float] = time.monotonic
    _pairs: dict[tuple[str, str], _Pair] = field(default_factory=dict)

    def retry_after(self, email: str, client: str) -> float | None:
        """Return the seconds the pair must still wait, or None when it may try."""
        pair = self._pairs.get(_key(email, client))
        if pair is None:
            return None
        wait = pair.locked_until - self.clock()
        return wait if wait > 0 else None

    def failed(self, email: str, client: str) -> float | None:
        """Count a failed login; return the lock's length when it locks the pair."""
        now = self.clock()
        key = _key(email, client)
        pair = self._pairs.get(key)
        if pair is None or now - pair.last_failure > FORGET_AFTER_SECONDS:
            pair = self._pairs[key] = _Pair()
        pair.last_failure = now
        pair.failures = [
            at for at in pair.failures if now - at < FAILURE_WINDOW_SECONDS
        ] + [now]
        if len(self._pairs) > MAX_TRACKED_PAIRS:
            self._forget_idle(now)
        if len(pair.failures) < FAILURES_TO_LOCK:
            return None
        seconds = lock_seconds(pair.locks)
        pair.locks += 1
        pair.failures = []
        pair.locked_until = now + seconds
        return seconds

    def succeeded(self, email: str, client: str) -> None:
        """Clear the pair's failures and lockouts after a good password."""
        self._pairs.pop(_key(email, client), None)

    def _forget_idle(self, now: float) -> None:
        self._pairs = {
            key: pair
            for key, pair in self._pairs.items()
            if pair.locked_until > now
            or now - pair.last_failure < FAILURE_WINDOW_SECONDS
        }


def lock_seconds(previous_locks: int) -> float:
    """Return how long the next lock lasts: 30 s, doubled per earlier lock."""
    return min(FIRST_LOCK_SECONDS * 2 ** min(previous_locks, 16), MAX_LOCK_SECONDS)


def _key(email: str, client: str) -> tuple[str, str]:
    return email.strip().lower(), client
