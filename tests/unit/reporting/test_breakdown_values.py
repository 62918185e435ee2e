"""Day ranges, time zones and the leaderboard order of the figure breakdowns."""

import uuid
from datetime import UTC, date, datetime
from decimal import Decimal
from types import SimpleNamespace

import pytest

from reporting.breakdowns import (
    day_range,
    leaderboard_order,
    local_midnight,
    parse_time_zone,
)
from shared.errors import UnprocessableError

TODAY = date(2026, 12, 5)


class TestDayRange:
    @pytest.mark.parametrize(
        ("first", "last", "expected"),
        [
            (None, None, (date(2026, 11, 5), TODAY)),
            (date(2026, 12, 1), None, (date(2026, 12, 1), date(2026, 12, 31))),
            (None, date(2026, 1, 31), (date(2026, 1, 1), date(2026, 1, 31))),
            (TODAY, TODAY, (TODAY, TODAY)),
            (date(2025, 12, 5), date(2026, 12, 5), (date(2025, 12, 5), TODAY)),
        ],
    )
    def test_missing_ends_filled(
        self, first: date | None, last: date | None, expected: tuple[date, date]
    ) -> None:
        assert day_range(first, last, TODAY) == expected

    def test_reversed_range_names_both_days(self) -> None:
        with pytest.raises(UnprocessableError) as raised:
            day_range(date(2026, 3, 2), date(2026, 3, 1), TODAY)

        assert "2026-03-02" in raised.value.detail
        assert "2026-03-01" in raised.value.detail

    def test_range_over_366_days_rejected(self) -> None:
        with pytest.raises(UnprocessableError) as raised:
            day_range(date(2025, 12, 4), TODAY, TODAY)

        assert "367 days" in raised.value.detail


class TestTimeZone:
    def test_country_zone_by_default(self) -> None:
        assert parse_time_zone(None, "MX") == "America/Mexico_City"
        assert parse_time_zone("  ", "US") == "America/New_York"
        assert parse_time_zone(None, None) == "UTC"

    def test_named_zone_kept(self) -> None:
        assert parse_time_zone("America/Tijuana", "MX") == "America/Tijuana"

    @pytest.mark.parametrize(
        "value", ["Mars/Olympus", "../etc/passwd", "UTC+5", "posixrules", "a" * 300]
    )
    def test_unknown_zone_named(self, value: str) -> None:
        with pytest.raises(UnprocessableError) as raised:
            parse_time_zone(value, "MX")

        assert repr(value) in raised.value.detail

    def test_midnight_in_the_zone(self) -> None:
        midnight = local_midnight(date(2026, 12, 5), "America/Mexico_City")

        assert midnight == datetime(2026, 12, 5, 6, tzinfo=UTC)


class TestLeaderboardOrder:
    def test_completed_then_amount_then_contact_then_rejections(self) -> None:
        def agent(completed: int, amount: str, contact: float | None, rejected: int):
            return SimpleNamespace(
                agent_id=uuid.uuid4(),
                visits_completed=completed,
                promised_amount=Decimal(amount),
                contact_rate=contact,
                visits_rejected=rejected,
            )

        best = agent(5, "0", None, 3)
        richer = agent(4, "900", 0.1, 0)
        closer = agent(4, "100", 0.9, 0)
        cleaner = agent(4, "100", 0.5, 0)
        rejected = agent(4, "100", 0.5, 2)

        ranked = sorted(
            [rejected, cleaner, closer, richer, best], key=leaderboard_order
        )

        assert ranked == [best, richer, closer, cleaner, rejected]
