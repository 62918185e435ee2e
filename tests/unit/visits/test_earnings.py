from datetime import UTC, datetime, timedelta, timezone

import pytest

from shared.errors import UnprocessableError
from visits.earnings import MAX_PERIOD_DAYS, Period, parse_period

CDMX = timezone(timedelta(hours=-6))


class TestParsePeriod:
    def test_dates_cover_whole_utc_days(self) -> None:
        assert parse_period("2026-12-01", "2026-12-31") == Period(
            start=datetime(2026, 12, 1, tzinfo=UTC),
            end=datetime(2027, 1, 1, tzinfo=UTC),
        )

    def test_timestamps_read_with_their_offsets(self) -> None:
        period = parse_period("2026-12-01T00:00:00-06:00", "2026-12-02T00:00:00Z")
        assert period.start == datetime(2026, 12, 1, tzinfo=CDMX)
        assert period.start.utcoffset() == timedelta(0)
        assert period.end == datetime(2026, 12, 2, tzinfo=UTC)

    def test_same_date_is_one_day(self) -> None:
        period = parse_period("2026-12-05", "2026-12-05")
        assert period.end - period.start == timedelta(days=1)

    def test_leap_year_fits(self) -> None:
        period = parse_period("2028-01-01", "2028-12-31")
        assert period.end - period.start == timedelta(days=MAX_PERIOD_DAYS)

    def test_over_366_days_rejected(self) -> None:
        with pytest.raises(UnprocessableError) as raised:
            parse_period("2026-01-01", "2027-01-02")
        [error] = raised.value.extensions["errors"]
        assert error["location"] == "query.to"
        assert "2026-01-01" in error["message"]
        assert "2027-01-02" in error["message"]
        assert "367 days" in error["message"]

    def test_from_after_to_rejected(self) -> None:
        with pytest.raises(UnprocessableError) as raised:
            parse_period("2026-12-10T00:00:00Z", "2026-12-09T23:59:59Z")
        [error] = raised.value.extensions["errors"]
        assert error["location"] == "query.from"
        assert (
            "2026-12-10T00:00:00Z is after to 2026-12-09T23:59:59Z"
            in (error["message"])
        )

    def test_timestamp_without_zone_rejected(self) -> None:
        with pytest.raises(UnprocessableError) as raised:
            parse_period("2026-12-01T00:00:00", "2026-12-02")
        [error] = raised.value.extensions["errors"]
        assert error["location"] == "query.from"
        assert "no time zone" in error["message"]

    def test_every_unreadable_bound_listed(self) -> None:
        with pytest.raises(UnprocessableError) as raised:
            parse_period("yesterday", "2026-13-01")
        errors = raised.value.extensions["errors"]
        assert [error["location"] for error in errors] == ["query.from", "query.to"]
        assert [error["input"] for error in errors] == ["yesterday", "2026-13-01"]

    @pytest.mark.parametrize(
        ("raw_from", "raw_to", "location"),
        [
            ("9999-12-31", "9999-12-31", "query.to"),
            ("0001-01-01T00:00:00+01:00", "0001-01-02T00:00:00Z", "query.from"),
        ],
    )
    def test_bound_outside_calendar_rejected(
        self, raw_from: str, raw_to: str, location: str
    ) -> None:
        with pytest.raises(UnprocessableError) as raised:
            parse_period(raw_from, raw_to)
        [error] = raised.value.extensions["errors"]
        assert error["location"] == location
        assert "out of the calendar's range" in error["message"]
