import random
from datetime import UTC, datetime

import pytest

from reporting.retries import parse_retry_after, retry_delay_seconds
from reporting.settings import DEFAULT_RETRY_SCHEDULE_SECONDS, ReportingSettings

SCHEDULE = (5.0, 300.0, 1800.0)


class TestRetryDelay:
    @pytest.mark.parametrize("attempt", [1, 2, 3])
    def test_jitter_within_ten_percent(self, attempt: int) -> None:
        rng = random.Random(attempt)
        base = SCHEDULE[attempt - 1]

        delays = [
            retry_delay_seconds(attempt, SCHEDULE, jitter_ratio=0.1, rng=rng)
            for _ in range(2000)
        ]

        assert all(d is not None for d in delays)
        values = [d for d in delays if d is not None]
        assert min(values) >= base * 0.9
        assert max(values) <= base * 1.1
        # The spread is used, not just one end of it.
        assert max(values) - min(values) > base * 0.15

    def test_no_jitter_exact(self) -> None:
        assert retry_delay_seconds(2, SCHEDULE, jitter_ratio=0.0) == 300.0

    def test_exhausted_schedule_none(self) -> None:
        assert retry_delay_seconds(4, SCHEDULE, jitter_ratio=0.1) is None

    def test_attempt_zero_none(self) -> None:
        assert retry_delay_seconds(0, SCHEDULE, jitter_ratio=0.1) is None

    def test_default_schedule_spans_days(self) -> None:
        total = sum(DEFAULT_RETRY_SCHEDULE_SECONDS)

        assert len(DEFAULT_RETRY_SCHEDULE_SECONDS) == 10
        # 207,305 s: the last try comes about 2.4 days after the first.
        assert 2 * 86400 < total < 3 * 86400


class TestRetryAfter:
    def test_seconds(self) -> None:
        assert parse_retry_after("120", max_seconds=3600) == 120.0

    def test_capped(self) -> None:
        assert parse_retry_after("999999", max_seconds=3600) == 3600.0

    @pytest.mark.parametrize("value", [None, "", "soon", "-5", "1.5"])
    def test_unusable_values_none(self, value: str | None) -> None:
        assert parse_retry_after(value, max_seconds=3600) is None

    def test_http_date_counted_from_now(self) -> None:
        now = datetime(2015, 10, 21, 7, 27, 0, tzinfo=UTC)

        seconds = parse_retry_after(
            "Wed, 21 Oct 2015 07:28:00 GMT", max_seconds=3600, now=now
        )

        assert seconds == 60.0

    def test_http_date_capped(self) -> None:
        now = datetime(2015, 10, 20, 7, 28, 0, tzinfo=UTC)

        seconds = parse_retry_after(
            "Wed, 21 Oct 2015 07:28:00 GMT", max_seconds=3600, now=now
        )

        assert seconds == 3600.0

    def test_http_date_in_past_zero(self) -> None:
        now = datetime(2016, 1, 1, tzinfo=UTC)

        seconds = parse_retry_after(
            "Wed, 21 Oct 2015 07:28:00 GMT", max_seconds=3600, now=now
        )

        assert seconds == 0.0


class TestScheduleSetting:
    def test_comma_separated_env(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv("REPORTING_WEBHOOK_RETRY_SCHEDULE_SECONDS", "1, 2.5,3")

        settings = ReportingSettings()

        assert settings.webhook_retry_schedule_seconds == (1.0, 2.5, 3.0)

    def test_default_schedule(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.delenv("REPORTING_WEBHOOK_RETRY_SCHEDULE_SECONDS", raising=False)

        settings = ReportingSettings()

        assert settings.webhook_retry_schedule_seconds == DEFAULT_RETRY_SCHEDULE_SECONDS

    def test_negative_delay_rejected(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv("REPORTING_WEBHOOK_RETRY_SCHEDULE_SECONDS", "5,-1")

        with pytest.raises(ValueError, match="zero or positive"):
            ReportingSettings()

    def test_lease_must_exceed_timeout(self) -> None:
        with pytest.raises(ValueError, match="LEASE_SECONDS must exceed"):
            ReportingSettings(webhook_lease_seconds=10, webhook_timeout_seconds=15)
