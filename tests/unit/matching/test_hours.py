from datetime import UTC, datetime, time, timedelta

import pytest

from matching.hours import (
    MEXICO_WINDOW,
    UNITED_STATES_WINDOW,
    Window,
    address_zones,
    is_legal_arrival,
    legal_window,
    may_offer,
    open_time_end,
)

CDMX = ("America/Mexico_City",)  # UTC-6 all year
HERMOSILLO = ("America/Hermosillo",)  # UTC-7 all year
TIJUANA = ("America/Tijuana",)  # UTC-8, UTC-7 in summer, as California
LOS_ANGELES = ("America/Los_Angeles",)


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


class TestLegalWindow:
    def test_mexican_and_other_zones(self) -> None:
        assert legal_window("America/Mexico_City") == MEXICO_WINDOW
        assert legal_window("America/Tijuana") == MEXICO_WINDOW
        assert legal_window("America/Chicago") == UNITED_STATES_WINDOW
        assert legal_window("Europe/Madrid") == UNITED_STATES_WINDOW

    def test_window_must_start_before_it_ends(self) -> None:
        with pytest.raises(ValueError, match="start before"):
            Window(time(21), time(9))


class TestEdges:
    @pytest.mark.parametrize(
        ("arrival", "legal"),
        [
            (utc(2026, 1, 15, 12, 59, 59), False),  # 06:59:59
            (utc(2026, 1, 15, 13, 0), True),  # 07:00
            (utc(2026, 1, 16, 3, 59, 59), True),  # 21:59:59
            (utc(2026, 1, 16, 4, 0), False),  # 22:00
        ],
    )
    def test_mexico_city_utc_minus_6(self, arrival: datetime, legal: bool) -> None:
        assert is_legal_arrival(arrival, CDMX) is legal

    @pytest.mark.parametrize(
        ("arrival", "legal"),
        [
            (utc(2026, 7, 15, 13, 59), False),  # 06:59
            (utc(2026, 7, 15, 14, 0), True),  # 07:00
            (utc(2026, 7, 16, 4, 59), True),  # 21:59
            (utc(2026, 7, 16, 5, 0), False),  # 22:00
        ],
    )
    def test_hermosillo_utc_minus_7(self, arrival: datetime, legal: bool) -> None:
        assert is_legal_arrival(arrival, HERMOSILLO) is legal

    @pytest.mark.parametrize(
        ("arrival", "legal"),
        [
            (utc(2026, 1, 15, 14, 59), False),  # 06:59
            (utc(2026, 1, 15, 15, 0), True),  # 07:00
            (utc(2026, 1, 16, 5, 59), True),  # 21:59
            (utc(2026, 1, 16, 6, 0), False),  # 22:00
        ],
    )
    def test_tijuana_winter_utc_minus_8(self, arrival: datetime, legal: bool) -> None:
        assert is_legal_arrival(arrival, TIJUANA) is legal

    @pytest.mark.parametrize(
        ("arrival", "legal"),
        [
            (utc(2026, 1, 15, 15, 59), False),  # 07:59
            (utc(2026, 1, 15, 16, 0), True),  # 08:00
            (utc(2026, 1, 16, 4, 59), True),  # 20:59
            (utc(2026, 1, 16, 5, 0), False),  # 21:00
        ],
    )
    def test_united_states_window(self, arrival: datetime, legal: bool) -> None:
        assert is_legal_arrival(arrival, LOS_ANGELES) is legal


class TestDaylightSaving:
    def test_tijuana_summer_opens_an_hour_earlier_in_utc(self) -> None:
        # 14:30 UTC is 06:30 in January (UTC-8) and 07:30 in July (UTC-7).
        assert not is_legal_arrival(utc(2026, 1, 15, 14, 30), TIJUANA)
        assert is_legal_arrival(utc(2026, 7, 15, 14, 30), TIJUANA)

    def test_day_clocks_spring_forward(self) -> None:
        # California moves to UTC-7 at 02:00 on 8 March 2026.
        assert not is_legal_arrival(utc(2026, 3, 7, 15, 30), LOS_ANGELES)  # 07:30
        assert is_legal_arrival(utc(2026, 3, 8, 15, 30), LOS_ANGELES)  # 08:30

    def test_day_clocks_fall_back(self) -> None:
        # California moves back to UTC-8 at 02:00 on 1 November 2026.
        assert is_legal_arrival(utc(2026, 10, 31, 15, 30), LOS_ANGELES)  # 08:30
        assert not is_legal_arrival(utc(2026, 11, 1, 15, 30), LOS_ANGELES)  # 07:30

    def test_mexico_city_keeps_one_offset(self) -> None:
        assert is_legal_arrival(utc(2026, 1, 15, 13, 0), CDMX)
        assert is_legal_arrival(utc(2026, 7, 15, 13, 0), CDMX)


class TestStricterWindow:
    def test_narrows_the_legal_window(self) -> None:
        office = Window(time(9), time(18))

        assert not is_legal_arrival(utc(2026, 1, 15, 14, 30), CDMX, office)  # 08:30
        assert is_legal_arrival(utc(2026, 1, 15, 15, 0), CDMX, office)  # 09:00
        assert not is_legal_arrival(utc(2026, 1, 16, 0, 0), CDMX, office)  # 18:00

    def test_cannot_widen_the_legal_window(self) -> None:
        wide = Window(time(6), time(23))

        assert not is_legal_arrival(utc(2026, 1, 15, 12, 30), CDMX, wide)  # 06:30
        assert not is_legal_arrival(utc(2026, 1, 16, 4, 30), CDMX, wide)  # 22:30


class TestUnknownZone:
    def test_every_mexican_zone_must_allow_it(self) -> None:
        zones = address_zones(None)

        assert "America/Tijuana" in zones
        assert "America/Cancun" in zones
        # 13:30 UTC: 07:30 in Mexico City but 05:30 in Tijuana.
        assert not is_legal_arrival(utc(2026, 1, 15, 13, 30), zones)
        # 15:00 UTC: 07:00 in Tijuana, 10:00 in Cancún.
        assert is_legal_arrival(utc(2026, 1, 15, 15, 0), zones)
        # 03:00 UTC: 22:00 in Cancún (UTC-5).
        assert not is_legal_arrival(utc(2026, 1, 16, 3, 0), zones)

    def test_invalid_zone_is_treated_as_unknown(self) -> None:
        assert address_zones("Mars/Olympus_Mons") == address_zones(None)
        assert address_zones("America/Monterrey") == ("America/Monterrey",)

    def test_checking_an_invalid_zone_directly_raises(self) -> None:
        with pytest.raises(ValueError, match="unknown time zone"):
            is_legal_arrival(utc(2026, 1, 15, 15, 0), ("Mars/Olympus_Mons",))


class TestMayOffer:
    def test_legal_now(self) -> None:
        now = utc(2026, 1, 15, 16, 0)  # 10:00 in Mexico City

        assert may_offer(
            now=now,
            expires_at=now + timedelta(minutes=10),
            travel=timedelta(minutes=20),
            time_zones=CDMX,
        )

    def test_legal_when_leaving_at_expiry(self) -> None:
        now = utc(2026, 1, 15, 12, 30)  # 06:30 in Mexico City

        assert may_offer(
            now=now,
            expires_at=now + timedelta(minutes=30),
            travel=timedelta(minutes=5),
            time_zones=CDMX,
        )

    def test_travel_time_pushes_the_arrival_past_closing(self) -> None:
        now = utc(2026, 1, 16, 3, 40)  # 21:40 in Mexico City

        assert not may_offer(
            now=now,
            expires_at=now + timedelta(minutes=10),
            travel=timedelta(minutes=25),
            time_zones=CDMX,
        )
        assert may_offer(
            now=now,
            expires_at=now + timedelta(minutes=10),
            travel=timedelta(minutes=15),
            time_zones=CDMX,
        )

    def test_night_offer_is_not_made(self) -> None:
        now = utc(2026, 1, 15, 8, 0)  # 02:00 in Mexico City

        assert not may_offer(
            now=now,
            expires_at=now + timedelta(minutes=10),
            travel=timedelta(minutes=5),
            time_zones=CDMX,
        )


class TestOpenTimeEnd:
    FAR = utc(2028, 1, 1)

    def test_wait_inside_the_window_is_plain(self) -> None:
        start = utc(2026, 12, 7, 18)  # 12:00 in Mexico City

        end = open_time_end(start, timedelta(hours=1), until=self.FAR, time_zones=CDMX)

        assert end == utc(2026, 12, 7, 19)

    def test_night_is_skipped(self) -> None:
        # 21:30 in Mexico City: half an hour before 22:00, the rest from 07:00.
        start = utc(2026, 12, 8, 3, 30)

        end = open_time_end(start, timedelta(hours=1), until=self.FAR, time_zones=CDMX)

        assert end == utc(2026, 12, 8, 13, 30)

    def test_spring_forward_opens_an_hour_earlier_in_utc(self) -> None:
        # Saturday 20:30 in Los Angeles (UTC-8); the window closes at 21:00
        # and opens on Sunday at 08:00, which is summer time (UTC-7).
        start = utc(2027, 3, 14, 4, 30)

        end = open_time_end(
            start, timedelta(hours=1), until=self.FAR, time_zones=LOS_ANGELES
        )

        assert end == utc(2027, 3, 14, 15, 30)

    def test_stricter_window_counts_only_its_hours(self) -> None:
        start = utc(2026, 12, 7, 23)  # 17:00 in Mexico City
        stricter = Window(time(9), time(18))

        end = open_time_end(
            start,
            timedelta(hours=3),
            until=self.FAR,
            time_zones=CDMX,
            stricter=stricter,
        )

        assert end == utc(2026, 12, 8, 17)  # 11:00 the next day

    def test_unknown_zone_waits_for_every_zone_of_mexico(self) -> None:
        # Tijuana (UTC-8 in December) is the last to open, at 15:00 UTC.
        start = utc(2026, 12, 8, 4)

        end = open_time_end(
            start,
            timedelta(minutes=30),
            until=self.FAR,
            time_zones=address_zones(None),
        )

        assert end == utc(2026, 12, 8, 15, 30)

    def test_deadline_ends_the_wait_first(self) -> None:
        start = utc(2026, 12, 8, 3, 30)
        deadline = utc(2026, 12, 8, 6)

        end = open_time_end(start, timedelta(hours=1), until=deadline, time_zones=CDMX)

        assert end == deadline
