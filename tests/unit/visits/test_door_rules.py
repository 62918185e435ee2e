from datetime import UTC, datetime, time, timedelta

import pytest

from visits.door_rules import check_visiting_hours, check_weekly_limit, judged_time


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def refused(
    moment: datetime,
    zone: str | None,
    *,
    start: time | None = None,
    end: time | None = None,
    days: list[str] | None = None,
) -> str | None:
    errors = check_visiting_hours(
        moment, time_zone=zone, start=start, end=end, days=days
    )
    return str(errors[0]["message"]) if errors else None


class TestMexicanZones:
    @pytest.mark.parametrize(
        ("zone", "seven_am_utc_hour"),
        [
            ("America/Mexico_City", 13),  # UTC-6 all year
            ("America/Cancun", 12),  # UTC-5 all year
            ("America/Hermosillo", 14),  # UTC-7 all year
            ("America/Tijuana", 15),  # UTC-8 in January
        ],
    )
    def test_window_opens_at_seven_local(
        self, zone: str, seven_am_utc_hour: int
    ) -> None:
        opening = utc(2026, 1, 15, seven_am_utc_hour)
        assert refused(opening, zone) is None
        message = refused(opening - timedelta(minutes=1), zone)
        assert message is not None
        assert f"06:59 local time in {zone}" in message
        assert "07:00 to 22:00" in message

    def test_window_closes_at_ten_pm_in_mexico_city(self) -> None:
        assert refused(utc(2026, 1, 16, 3, 59), "America/Mexico_City") is None
        assert refused(utc(2026, 1, 16, 4, 0), "America/Mexico_City") is not None


class TestBorder:
    """Ciudad Juárez and El Paso share a clock but not the law."""

    def test_seven_thirty_is_legal_in_juarez_only(self) -> None:
        seven_thirty = utc(2026, 6, 10, 13, 30)  # UTC-6 on both sides in June
        assert refused(seven_thirty, "America/Ciudad_Juarez") is None
        message = refused(seven_thirty, "America/Denver")
        assert message is not None
        assert "08:00 to 21:00" in message

    def test_eight_thirty_is_legal_on_both_sides(self) -> None:
        eight_thirty = utc(2026, 6, 10, 14, 30)
        assert refused(eight_thirty, "America/Ciudad_Juarez") is None
        assert refused(eight_thirty, "America/Denver") is None


class TestDaylightSavingChange:
    """Tijuana springs forward on 8 March 2026: 14:30 UTC is 06:30, then 07:30."""

    def test_same_utc_time_is_refused_the_day_before(self) -> None:
        message = refused(utc(2026, 3, 7, 14, 30), "America/Tijuana")
        assert message is not None
        assert "06:30 local time" in message

    def test_legal_on_dst_change_day(self) -> None:
        assert refused(utc(2026, 3, 8, 14, 30), "America/Tijuana") is None

    def test_mexico_city_does_not_change(self) -> None:
        for day in (7, 8):
            assert refused(utc(2026, 3, day, 12, 30), "America/Mexico_City") is not None


class TestTenantRestrictions:
    def test_stricter_window(self) -> None:
        office = {"start": time(9), "end": time(18)}
        ten_am = utc(2026, 1, 15, 16)  # 10:00 in Mexico City
        assert refused(ten_am, "America/Mexico_City", **office) is None
        message = refused(ten_am + timedelta(hours=8), "America/Mexico_City", **office)
        assert message is not None
        assert "09:00 to 18:00" in message

    def test_stricter_window_cannot_widen_the_legal_one(self) -> None:
        wide = {"start": time(6), "end": time(23)}
        six_thirty = utc(2026, 1, 15, 12, 30)
        message = refused(six_thirty, "America/Mexico_City", **wide)
        assert message is not None
        assert "07:00 to 22:00" in message

    def test_disallowed_weekday(self) -> None:
        weekdays = ["monday", "tuesday", "wednesday", "thursday", "friday"]
        saturday_noon = utc(2026, 1, 17, 18)
        message = refused(saturday_noon, "America/Mexico_City", days=weekdays)
        assert message is not None
        assert "Saturday" in message
        friday_noon = saturday_noon - timedelta(days=1)
        assert refused(friday_noon, "America/Mexico_City", days=weekdays) is None

    def test_weekday_is_local_not_utc(self) -> None:
        """Friday 21:00 in Mexico City is already Saturday in UTC."""
        friday_night = utc(2026, 1, 17, 3)
        assert refused(friday_night, "America/Mexico_City", days=["friday"]) is None


class TestUnknownZone:
    def test_needs_hours_legal_in_every_mexican_zone(self) -> None:
        # 07:30 in Mexico City is 06:30 in Hermosillo and 05:30 in Tijuana.
        assert refused(utc(2026, 1, 15, 13, 30), None) is not None
        assert refused(utc(2026, 1, 15, 18), None) is None


class TestJudgedTime:
    def test_device_time_after_receipt_is_cut_to_receipt(self) -> None:
        received = utc(2026, 1, 15, 18)
        assert judged_time(received + timedelta(seconds=90), received) == received
        earlier = received - timedelta(hours=3)
        assert judged_time(earlier, received) == earlier


class TestWeeklyLimit:
    def test_under_the_limit(self) -> None:
        assert check_weekly_limit([utc(2026, 1, 15, 18)], limit=2, time_zone=None) == []

    def test_no_limit(self) -> None:
        earlier = [utc(2026, 1, day, 18) for day in (10, 11, 12)]
        assert check_weekly_limit(earlier, limit=None, time_zone=None) == []

    def test_at_the_limit_names_the_local_dates(self) -> None:
        earlier = [utc(2026, 1, 14, 18), utc(2026, 1, 16, 3)]
        [error] = check_weekly_limit(earlier, limit=2, time_zone="America/Cancun")
        assert "2026-01-14 13:00, 2026-01-15 22:00" in error["message"]
        assert "at most 2 a week" in error["message"]
        assert error["location"] == "body.device_time"
