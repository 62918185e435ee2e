"""Request rate limits per API key and per agent (generic cell rate algorithm).

Each caller has a theoretical arrival time (TAT): the moment its bucket
would be empty again if it stopped now. A request moves the TAT on by one
emission interval (60 s / rate); it is rejected when that would put the TAT
more than `burst` intervals ahead of now, and the caller gets the seconds
to wait. One number per caller, no timers, and the clock is injected.

NOTE: the limits are held in each service process, so a deployment of N
replicas of a service lets a caller through at up to N times the rate.
"""

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

# Past this many callers, the ones whose bucket has drained are dropped.
MAX_TRACKED_CALLERS = 100_000


@dataclass
class RateLimiter:
    """A per-caller limit of `per_minute` requests with bursts up to `burst`."""

    per_minute: int
    burst: int
    clock: Callable[[], float] = time.monotonic
    _arrivals: dict[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.per_minute < 0 or self.burst < 1:
            raise ValueError(
                f"invalid rate limit {self.per_minute}/min with burst {self.burst}; "
                "the rate must be 0 (off) or more and the burst at least 1"
            )

    @property
    def enabled(self) -> bool:
        return self.per_minute > 0

    def retry_after(self, caller: str) -> float | None:
        """Count one request from `caller`; return None, or the seconds to wait."""
        if not self.enabled:
            return None
        now = self.clock()
        interval = 60.0 / self.per_minute
        arrival = max(self._arrivals.get(caller, now), now) + interval
        ahead = arrival - now
        allowed_ahead = self.burst * interval
        if ahead > allowed_ahead:
            return ahead - allowed_ahead
        self._arrivals[caller] = arrival
        if len(self._arrivals) > MAX_TRACKED_CALLERS:
            self._forget_drained(now)
        return None

    def _forget_drained(self, now: float) -> None:
        self._arrivals = {
            caller: arrival
            for caller, arrival in self._arrivals.items()
            if arrival > now
        }


def retry_after_header(seconds: float) -> str:
    """Return a Retry-After value in whole seconds, rounded up, at least 1."""
    return str(max(1, math.ceil(seconds)))
