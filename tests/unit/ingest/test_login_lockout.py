"""Failed logins lock one email from one address, briefly and growing."""

from ingest.users.lockout import (
    FAILURES_TO_LOCK,
    MAX_LOCK_SECONDS,
    LoginLockout,
    lock_seconds,
)


class Clock:
    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


def fail_until_locked(lockout: LoginLockout, email: str, client: str) -> float:
    results = [lockout.failed(email, client) for _ in range(FAILURES_TO_LOCK)]
    assert results[:-1] == [None] * (FAILURES_TO_LOCK - 1)
    assert results[-1] is not None
    return results[-1]


class TestLoginLockout:
    def test_fifth_failure_locks_the_pair_for_thirty_seconds(self) -> None:
        clock = Clock()
        lockout = LoginLockout(clock=clock)

        locked_for = fail_until_locked(lockout, "ana@x.mx", "10.0.0.1")

        assert locked_for == 30
        assert lockout.retry_after("ANA@x.mx", "10.0.0.1") == 30
        clock.now += 30
        assert lockout.retry_after("ana@x.mx", "10.0.0.1") is None

    def test_other_address_and_other_email_unaffected(self) -> None:
        lockout = LoginLockout(clock=Clock())

        fail_until_locked(lockout, "ana@x.mx", "10.0.0.1")

        assert lockout.retry_after("ana@x.mx", "10.0.0.2") is None
        assert lockout.retry_after("luis@x.mx", "10.0.0.1") is None

    def test_failures_spread_beyond_the_window_do_not_lock(self) -> None:
        clock = Clock()
        lockout = LoginLockout(clock=clock)

        for _ in range(FAILURES_TO_LOCK * 2):
            assert lockout.failed("ana@x.mx", "10.0.0.1") is None
            clock.now += 10

        assert lockout.retry_after("ana@x.mx", "10.0.0.1") is None

    def test_repeat_lock_doubles(self) -> None:
        clock = Clock()
        lockout = LoginLockout(clock=clock)

        first = fail_until_locked(lockout, "ana@x.mx", "10.0.0.1")
        clock.now += first
        second = fail_until_locked(lockout, "ana@x.mx", "10.0.0.1")

        assert (first, second) == (30, 60)

    def test_success_clears_the_pair(self) -> None:
        clock = Clock()
        lockout = LoginLockout(clock=clock)
        clock.now += fail_until_locked(lockout, "ana@x.mx", "10.0.0.1")

        lockout.succeeded("ana@x.mx", "10.0.0.1")

        assert fail_until_locked(lockout, "ana@x.mx", "10.0.0.1") == 30

    def test_lock_length_is_capped(self) -> None:
        assert [lock_seconds(n) for n in range(4)] == [30, 60, 120, 240]
        assert lock_seconds(100) == MAX_LOCK_SECONDS
