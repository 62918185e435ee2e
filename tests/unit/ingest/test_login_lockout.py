"""Failed logins lock one email from one address, briefly and growing."""

from datetime import UTC, datetime, timedelta

from ingest.users.lockout import (
    FAILURES_TO_LOCK,
    MAX_LOCK_SECONDS,
    PairRecord,
    after_failure,
    lock_seconds,
    pair_key,
    wait_seconds,
)

START = datetime(2026, 12, 5, 9, 0, tzinfo=UTC)


def fail_until_locked(
    record: PairRecord | None, now: datetime
) -> tuple[PairRecord, float]:
    locks = []
    for _ in range(FAILURES_TO_LOCK):
        record, locked_for = after_failure(record, now)
        locks.append(locked_for)
    assert locks[:-1] == [None] * (FAILURES_TO_LOCK - 1)
    assert locks[-1] is not None
    assert record is not None
    return record, locks[-1]


class TestAfterFailure:
    def test_fifth_failure_locks_the_pair_for_thirty_seconds(self) -> None:
        record, locked_for = fail_until_locked(None, START)

        assert locked_for == 30
        assert wait_seconds(record, START) == 30
        assert wait_seconds(record, START + timedelta(seconds=30)) is None

    def test_failures_spread_beyond_the_window_do_not_lock(self) -> None:
        record: PairRecord | None = None
        now = START
        for _ in range(FAILURES_TO_LOCK * 2):
            record, locked_for = after_failure(record, now)
            assert locked_for is None
            now += timedelta(seconds=10)

        assert wait_seconds(record, now) is None

    def test_repeat_lock_doubles(self) -> None:
        record, first = fail_until_locked(None, START)
        later = START + timedelta(seconds=first)
        _, second = fail_until_locked(record, later)

        assert (first, second) == (30, 60)

    def test_an_hour_without_failures_starts_again(self) -> None:
        record, _ = fail_until_locked(None, START)
        _, again = fail_until_locked(record, START + timedelta(hours=1, seconds=1))

        assert again == 30

    def test_unknown_pair_may_try(self) -> None:
        assert wait_seconds(None, START) is None

    def test_lock_length_is_capped(self) -> None:
        assert [lock_seconds(n) for n in range(4)] == [30, 60, 120, 240]
        assert lock_seconds(100) == MAX_LOCK_SECONDS


class TestPairKey:
    def test_email_case_and_spaces_do_not_matter(self) -> None:
        assert pair_key(" ANA@x.mx", "10.0.0.1") == pair_key("ana@x.mx", "10.0.0.1")

    def test_other_address_and_other_email_are_other_pairs(self) -> None:
        keys = {
            pair_key("ana@x.mx", "10.0.0.1"),
            pair_key("ana@x.mx", "10.0.0.2"),
            pair_key("luis@x.mx", "10.0.0.1"),
        }
        assert len(keys) == 3

    def test_key_holds_no_email(self) -> None:
        assert "ana" not in pair_key("ana@x.mx", "10.0.0.1")
