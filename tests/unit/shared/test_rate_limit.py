import pytest

from shared.rate_limit import RateLimiter, retry_after_header


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def limiter(per_minute: int = 60, burst: int = 3) -> tuple[RateLimiter, Clock]:
    clock = Clock()
    return RateLimiter(per_minute=per_minute, burst=burst, clock=clock), clock


def test_burst_passes_then_refused() -> None:
    rate, _ = limiter()

    passed = [rate.retry_after("key:a") for _ in range(3)]
    refused = rate.retry_after("key:a")

    assert passed == [None, None, None]
    assert refused == pytest.approx(1.0)


def test_refusal_uses_no_allowance() -> None:
    rate, clock = limiter()
    for _ in range(3):
        rate.retry_after("key:a")
    for _ in range(50):
        rate.retry_after("key:a")

    clock.now += 1.0

    assert rate.retry_after("key:a") is None
    assert rate.retry_after("key:a") is not None


def test_steady_rate_never_refused() -> None:
    rate, clock = limiter(per_minute=120, burst=1)

    waits = []
    for _ in range(100):
        waits.append(rate.retry_after("agent:x"))
        clock.now += 0.5

    assert waits == [None] * 100


def test_callers_kept_apart() -> None:
    rate, _ = limiter(burst=1)
    rate.retry_after("key:a")

    assert rate.retry_after("key:a") is not None
    assert rate.retry_after("key:b") is None


def test_zero_rate_turns_limit_off() -> None:
    rate, _ = limiter(per_minute=0)

    assert all(rate.retry_after("key:a") is None for _ in range(1000))


def test_idle_bucket_refills_only_to_burst() -> None:
    rate, clock = limiter(burst=2)
    clock.now += 3600

    results = [rate.retry_after("key:a") for _ in range(3)]

    assert results[:2] == [None, None]
    assert results[2] is not None


@pytest.mark.parametrize(("per_minute", "burst"), [(-1, 3), (60, 0)])
def test_invalid_limit_rejected(per_minute: int, burst: int) -> None:
    with pytest.raises(ValueError, match="invalid rate limit"):
        RateLimiter(per_minute=per_minute, burst=burst)


@pytest.mark.parametrize(("seconds", "header"), [(0.01, "1"), (1.0, "1"), (1.2, "2")])
def test_retry_after_whole_seconds(seconds: float, header: str) -> None:
    assert retry_after_header(seconds) == header
