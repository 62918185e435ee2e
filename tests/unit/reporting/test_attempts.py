import pytest

from reporting.attempts import AttemptOutcome, classify_response, next_step

SCHEDULE = (5.0, 300.0)


def classify(status: int, headers: dict[str, str] | None = None) -> AttemptOutcome:
    return classify_response(status, headers or {}, 12, max_retry_after_seconds=600)


class TestClassifyResponse:
    @pytest.mark.parametrize("status", [200, 201, 202, 204, 299])
    def test_any_2xx_delivered(self, status: int) -> None:
        outcome = classify(status)

        assert outcome.delivered
        assert outcome.error is None
        assert outcome.latency_ms == 12

    @pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
    def test_redirect_is_failure(self, status: int) -> None:
        outcome = classify(status, {"location": "https://elsewhere.example/"})

        assert not outcome.delivered
        assert "redirects are not followed" in (outcome.error or "")

    def test_gone(self) -> None:
        outcome = classify(410)

        assert outcome.gone
        assert not outcome.delivered

    def test_rate_limited_reads_retry_after(self) -> None:
        outcome = classify(429, {"retry-after": "42"})

        assert outcome.retry_after_seconds == 42.0

    def test_retry_after_ignored_outside_429(self) -> None:
        outcome = classify(503, {"retry-after": "42"})

        assert outcome.retry_after_seconds is None
        assert outcome.error == "HTTP 503"


class TestNextStep:
    def test_delivered(self) -> None:
        assert next_step(1, AttemptOutcome(200), SCHEDULE, jitter_ratio=0.1) == (
            "delivered",
            None,
        )

    def test_gone_fails_at_once(self) -> None:
        assert next_step(1, AttemptOutcome(410), SCHEDULE, jitter_ratio=0.1) == (
            "failed",
            None,
        )

    def test_failure_retried_on_schedule(self) -> None:
        state, delay = next_step(2, AttemptOutcome(500), SCHEDULE, jitter_ratio=0.1)

        assert state == "pending"
        assert delay is not None
        assert 270.0 <= delay <= 330.0

    def test_connection_error_retried(self) -> None:
        outcome = AttemptOutcome(None, "request failed: ConnectError")

        state, delay = next_step(1, outcome, SCHEDULE, jitter_ratio=0.0)

        assert (state, delay) == ("pending", 5.0)

    def test_schedule_exhausted_fails(self) -> None:
        assert next_step(3, AttemptOutcome(500), SCHEDULE, jitter_ratio=0.1) == (
            "failed",
            None,
        )

    def test_retry_after_replaces_delay(self) -> None:
        outcome = AttemptOutcome(429, "HTTP 429", retry_after_seconds=42.0)

        assert next_step(1, outcome, SCHEDULE, jitter_ratio=0.1) == ("pending", 42.0)

    def test_retry_after_still_counts_attempts(self) -> None:
        outcome = AttemptOutcome(429, "HTTP 429", retry_after_seconds=42.0)

        assert next_step(3, outcome, SCHEDULE, jitter_ratio=0.1) == ("failed", None)
