from datetime import UTC, date, datetime
from types import SimpleNamespace

import pytest

from matching.candidates import assignment_day, local_day, reach_m
from matching.settings import MatchingSettings


class TestLocalDay:
    def test_evening_in_mexico_city_is_still_that_day(self) -> None:
        # 01:00 UTC on the 8th is 19:00 on the 7th in Mexico City.
        at = datetime(2026, 12, 8, 1, tzinfo=UTC)

        assert local_day(at, "America/Mexico_City", "UTC") == date(2026, 12, 7)

    def test_agent_zone_comes_before_the_visits(self) -> None:
        at = datetime(2026, 12, 8, 1, tzinfo=UTC)

        assert local_day(at, "Asia/Tokyo", "America/Mexico_City") == date(2026, 12, 8)

    def test_default_zone_without_an_agent_zone(self) -> None:
        at = datetime(2026, 12, 8, 1, tzinfo=UTC)

        assert local_day(at, None, "America/Mexico_City") == date(2026, 12, 7)
        assert local_day(at, "Not/A_Zone", "UTC") == date(2026, 12, 8)


class TestAssignmentDay:
    def test_stored_day_wins(self) -> None:
        row = SimpleNamespace(
            load_day=date(2026, 12, 7), assigned_at=datetime(2026, 12, 8, 1, tzinfo=UTC)
        )

        assert assignment_day(row) == date(2026, 12, 7)

    def test_older_assignments_took_the_utc_day(self) -> None:
        row = SimpleNamespace(
            load_day=None, assigned_at=datetime(2026, 12, 8, 1, tzinfo=UTC)
        )

        assert assignment_day(row) == date(2026, 12, 8)


class TestReach:
    def test_minutes_times_speed_per_mode(self) -> None:
        settings = MatchingSettings(max_travel_minutes=20)

        reach = reach_m(settings)

        assert reach["walk"] == pytest.approx(1500)
        assert reach["motorcycle"] == pytest.approx(25_000 / 3)

    def test_campaign_limit_only_narrows(self) -> None:
        settings = MatchingSettings(max_travel_minutes=20)

        assert reach_m(settings, 10)["walk"] == pytest.approx(750)
        assert reach_m(settings, 60)["walk"] == pytest.approx(1500)
