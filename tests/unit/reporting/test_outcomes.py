"""Folding a batch of webhook outcomes into one health change per subscription."""

import uuid
from datetime import UTC, datetime, timedelta

from reporting.attempts import AttemptOutcome
from reporting.outcomes import (
    FinishedAttempt,
    attempt_columns,
    give_up_reason,
    health_by_subscription,
)

TENANT = uuid.uuid4()
START = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
FIVE_DAYS = timedelta(days=5)


def attempt(
    subscription_id: uuid.UUID, status: int | None, seconds: int, error: str = ""
) -> FinishedAttempt:
    outcome = AttemptOutcome(status, error or None, 5)
    return FinishedAttempt(
        tenant_id=TENANT,
        delivery_id=uuid.uuid4(),
        subscription_id=subscription_id,
        msg_id="msg_1",
        attempt_number=1,
        outcome=outcome,
        state="pending",
        retry_in_seconds=5.0,
        finished_at=START + timedelta(seconds=seconds),
    )


class TestHealthBySubscription:
    def test_last_outcome_wins_streak_restarts(self) -> None:
        flaky, steady = uuid.uuid4(), uuid.uuid4()
        batch = [
            attempt(flaky, 500, 1),
            attempt(steady, 204, 2),
            attempt(flaky, 204, 3),
            attempt(flaky, 503, 4),
            attempt(flaky, None, 5),
        ]

        health = {
            entry.subscription_id: entry for entry in health_by_subscription(batch)
        }

        assert health[steady].healthy
        assert health[steady].failing_since is None
        assert not health[flaky].healthy
        assert health[flaky].failing_since == START + timedelta(seconds=4)
        assert health[flaky].last is batch[-1]

    def test_gone_sticks_through_a_later_success(self) -> None:
        receiver = uuid.uuid4()
        batch = [attempt(receiver, 410, 1), attempt(receiver, 204, 2)]

        [health] = health_by_subscription(batch)

        assert health.gone
        reason = give_up_reason(health, None, disable_after=FIVE_DAYS)
        assert reason == "the receiver answered 410 Gone"


class TestGiveUpReason:
    def test_long_streak_names_its_start_and_last_error(self) -> None:
        [health] = health_by_subscription(
            [attempt(uuid.uuid4(), 500, 60, error="HTTP 500")]
        )
        started = START - FIVE_DAYS

        reason = give_up_reason(health, started, disable_after=FIVE_DAYS)

        assert reason == (
            f"every attempt has failed since {started.isoformat()}, "
            "the last with: HTTP 500"
        )

    def test_short_streak_or_success_kept(self) -> None:
        [failing] = health_by_subscription([attempt(uuid.uuid4(), 500, 0)])
        [healthy] = health_by_subscription([attempt(uuid.uuid4(), 204, 0)])
        long_ago = START - FIVE_DAYS * 2

        assert give_up_reason(failing, START, disable_after=FIVE_DAYS) is None
        assert give_up_reason(failing, None, disable_after=FIVE_DAYS) is None
        assert give_up_reason(healthy, long_ago, disable_after=FIVE_DAYS) is None


def test_attempt_columns_cut_long_errors() -> None:
    batch = [attempt(uuid.uuid4(), None, 0, error="x" * 800)]

    columns = attempt_columns(batch)

    assert [len(error) for error in columns["errors"]] == [500]
    assert columns["status_codes"] == [None]
