import dataclasses
import itertools
import math
import uuid
from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from matching.hours import Window
from matching.route import (
    DayPlan,
    DayRoute,
    DropReason,
    Interval,
    Place,
    RouteStop,
    day_detour_m,
    earliest_due,
    great_circle_m,
    insertion_detour_m,
    legal_windows_on,
    nearest_first,
    plan_route,
)

BASE = Place(19.4326, -99.1332)  # Mexico City, UTC-6 all year
DAY = date(2026, 3, 3)
LEGAL = legal_windows_on(DAY, "America/Mexico_City")  # 13:00 to 04:00 UTC
SERVICE = timedelta(minutes=20)
MORNING = datetime(2026, 3, 3, 15, tzinfo=UTC)  # 09:00 local


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def stop(number: int, place: Place, windows: Sequence[Interval] = LEGAL) -> RouteStop:
    return RouteStop(uuid.UUID(int=number), place, tuple(windows))


def day_plan(
    stops: Sequence[RouteStop],
    *,
    start_at: datetime = MORNING,
    hours: float = 10,
    return_to: Place | None = None,
    speed_kmh: float = 25,
) -> DayPlan:
    return DayPlan(
        start=BASE,
        start_at=start_at,
        speed_kmh=speed_kmh,
        service=SERVICE,
        stops=tuple(stops),
        working=((start_at, start_at + timedelta(hours=hours)),),
        return_to=return_to,
    )


def meters(a: Place, b: Place) -> int:
    return round(great_circle_m(a, b))


def order_distance(plan: DayPlan, order: Sequence[int]) -> int:
    points = [plan.start, *(plan.stops[i].place for i in order)]
    legs = sum(meters(a, b) for a, b in itertools.pairwise(points))
    back = meters(points[-1], plan.return_to) if plan.return_to else 0
    return legs + back


def order_fits(plan: DayPlan, order: Sequence[int]) -> bool:
    """Whether the agent, waiting when early, can start every stop in its windows."""
    at, here = plan.start_at, plan.start
    for i in order:
        target = plan.stops[i]
        travel = math.ceil(meters(here, target.place) / (plan.speed_kmh / 3.6))
        arrival = at + timedelta(seconds=travel)
        starts = [
            max(arrival, max(s, ws))
            for s, e in target.windows
            for ws, we in plan.working
            if max(arrival, s, ws) < min(e, we - plan.service)
        ]
        if not starts:
            return False
        at, here = min(starts) + plan.service, target.place
    return True


def nearest_neighbour(plan: DayPlan) -> list[int]:
    left, here, order = set(range(len(plan.stops))), plan.start, []
    while left:
        nearest = min(left, key=lambda i: (meters(here, plan.stops[i].place), i))
        order.append(nearest)
        left.remove(nearest)
        here = plan.stops[nearest].place
    return order


def served(route: DayRoute) -> list[uuid.UUID]:
    return [s.visit_id for s in route.stops]


places = st.builds(
    Place,
    lat=st.floats(19.35, 19.50),
    lon=st.floats(-99.22, -99.05),
)


@st.composite
def windowed_stops(draw: st.DrawFn) -> list[RouteStop]:
    """Up to 6 stops, each with one window of 30 minutes to 6 hours in the day."""
    count = draw(st.integers(1, 6))
    stops = []
    for number in range(count):
        opens = utc(2026, 3, 3, 15) + timedelta(minutes=draw(st.integers(0, 480)))
        length = timedelta(minutes=draw(st.integers(30, 360)))
        stops.append(stop(number, draw(places), [(opens, opens + length)]))
    return stops


class TestAgainstBruteForce:
    @settings(max_examples=60, deadline=None)
    @given(
        stops=st.lists(places, min_size=1, max_size=6),
        returns=st.booleans(),
    )
    def test_shortest_order_when_windows_do_not_bind(
        self, stops: list[Place], returns: bool
    ) -> None:
        plan = day_plan(
            [stop(i, p) for i, p in enumerate(stops)],
            hours=14,
            return_to=BASE if returns else None,
        )
        route = plan_route(plan)
        best = min(
            order_distance(plan, order)
            for order in itertools.permutations(range(len(stops)))
        )
        assert route.dropped == []
        assert route.distance_m == best

    @settings(
        max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow]
    )
    @given(stops=windowed_stops())
    def test_keeps_every_window(self, stops: list[RouteStop]) -> None:
        plan = day_plan(stops, hours=8)
        route = plan_route(plan)
        by_id = {s.visit_id: s for s in stops}
        previous_departure, here = plan.start_at, plan.start
        for planned in route.stops:
            target = by_id[planned.visit_id]
            assert any(s <= planned.arrival < e for s, e in target.windows)
            assert planned.departure == planned.arrival + SERVICE
            assert planned.departure <= plan.working[0][1]
            travel = meters(here, target.place) / (plan.speed_kmh / 3.6)
            assert planned.arrival >= previous_departure + timedelta(seconds=travel)
            assert planned.leg_m == meters(here, target.place)
            previous_departure, here = planned.departure, target.place
        assert len(route.stops) + len(route.dropped) == len(stops)

    @settings(
        max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow]
    )
    @given(stops=windowed_stops())
    def test_drops_only_unservable_stops(self, stops: list[RouteStop]) -> None:
        plan = day_plan(stops, hours=8)
        route = plan_route(plan)
        feasible = [
            order
            for order in itertools.permutations(range(len(stops)))
            if order_fits(plan, order)
        ]
        if feasible:
            assert route.dropped == []
            # Never much longer than the shortest order that fits.
            best = min(order_distance(plan, order) for order in feasible)
            assert route.distance_m <= best * 1.02 + len(stops)

    @settings(
        max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow]
    )
    @given(stops=windowed_stops())
    def test_never_longer_than_nearest_neighbour(self, stops: list[RouteStop]) -> None:
        plan = day_plan(stops, hours=8)
        greedy = nearest_neighbour(plan)
        route = plan_route(plan)
        if order_fits(plan, greedy):
            assert route.dropped == []
            assert route.distance_m <= order_distance(plan, greedy) + len(stops)


class TestDroppedStops:
    def test_campaign_window_after_working_hours_is_outside_hours(self) -> None:
        evening = legal_windows_on(
            DAY, "America/Mexico_City", Window(time(19), time(21))
        )
        near = Place(BASE.lat + 0.01, BASE.lon)
        plan = day_plan([stop(1, near, evening), stop(2, near)], hours=8)

        route = plan_route(plan)

        assert served(route) == [uuid.UUID(int=2)]
        assert [(d.visit_id, d.reason) for d in route.dropped] == [
            (uuid.UUID(int=1), DropReason.OUTSIDE_HOURS)
        ]

    def test_dropped_stop_fits_on_another_day(self) -> None:
        # Setting off at 21:55 local, 7 minutes away, the agent would knock
        # after 22:00; the next morning it can.
        near = Place(BASE.lat + 0.03, BASE.lon)
        late = day_plan([stop(1, near)], start_at=utc(2026, 3, 4, 3, 55), hours=2)
        assert [d.reason for d in plan_route(late).dropped] == [DropReason.CANNOT_REACH]

        next_day = legal_windows_on(date(2026, 3, 4), "America/Mexico_City")
        morning = day_plan([stop(1, near, next_day)], start_at=utc(2026, 3, 4, 14))
        route = plan_route(morning)
        assert served(route) == [uuid.UUID(int=1)]
        assert route.stops[0].arrival < utc(2026, 3, 4, 15)

    def test_full_day_drops_misfit(self) -> None:
        near = [Place(BASE.lat + 0.002 * i, BASE.lon) for i in range(1, 5)]
        plan = day_plan([stop(i, p) for i, p in enumerate(near)], hours=1)

        route = plan_route(plan)

        assert len(route.stops) == 2  # two 20-minute visits and their walks
        assert {d.reason for d in route.dropped} == {DropReason.DAY_FULL}

    def test_deadline_cut_window_is_honoured(self) -> None:
        deadline = utc(2026, 3, 3, 15, 30)
        cut = tuple((s, min(e, deadline)) for s, e in LEGAL)
        far = Place(BASE.lat + 0.2, BASE.lon)  # 22 km, 53 minutes at 25 km/h
        route = plan_route(day_plan([stop(1, far, cut)]))
        assert [d.reason for d in route.dropped] == [DropReason.CANNOT_REACH]

    def test_waits_for_the_window_to_open(self) -> None:
        near = Place(BASE.lat + 0.01, BASE.lon)
        plan = day_plan([stop(1, near)], start_at=utc(2026, 3, 3, 12), hours=6)
        route = plan_route(plan)
        assert route.stops[0].arrival == utc(2026, 3, 3, 13)  # 07:00 local


class TestTimeZones:
    def test_border_zone_follows_its_own_clock(self) -> None:
        # Tijuana keeps California's time: UTC-7 in summer, when Mexico City
        # is UTC-6, so its 07:00 comes an hour later in UTC.
        summer = date(2026, 7, 15)
        tijuana = legal_windows_on(summer, "America/Tijuana")
        mexico_city = legal_windows_on(summer, "America/Mexico_City")
        assert tijuana == ((utc(2026, 7, 15, 14), utc(2026, 7, 16, 5)),)
        assert mexico_city == ((utc(2026, 7, 15, 13), utc(2026, 7, 16, 4)),)

        place = Place(32.5149, -117.0382)
        plan = DayPlan(
            start=place,
            start_at=utc(2026, 7, 15, 13),
            speed_kmh=25,
            service=SERVICE,
            stops=(stop(1, place, tijuana),),
            working=((utc(2026, 7, 15, 13), utc(2026, 7, 15, 23)),),
        )
        assert plan_route(plan).stops[0].arrival == utc(2026, 7, 15, 14)

    def test_daylight_saving_day_moves_the_window_in_utc(self) -> None:
        # Clocks in Tijuana go forward at 02:00 on 8 March 2026.
        before = legal_windows_on(date(2026, 3, 7), "America/Tijuana")
        on_the_day = legal_windows_on(date(2026, 3, 8), "America/Tijuana")
        assert before[0][0] == utc(2026, 3, 7, 15)  # 07:00 PST
        assert on_the_day[0][0] == utc(2026, 3, 8, 14)  # 07:00 PDT
        assert on_the_day[0][1] == utc(2026, 3, 9, 5)  # 22:00 PDT

    def test_united_states_window_is_narrower(self) -> None:
        windows = legal_windows_on(date(2026, 1, 15), "America/Chicago")
        assert windows == ((utc(2026, 1, 15, 14), utc(2026, 1, 16, 3)),)

    def test_unknown_zone_is_legal_everywhere_in_mexico(self) -> None:
        windows = legal_windows_on(date(2026, 1, 15), None)
        # 07:00 in Tijuana (UTC-8) to 22:00 in Cancún (UTC-5).
        assert windows == ((utc(2026, 1, 15, 15), utc(2026, 1, 16, 3)),)

    def test_stricter_window_narrows_and_cannot_widen(self) -> None:
        narrowed = legal_windows_on(
            DAY, "America/Mexico_City", Window(time(9), time(23))
        )
        assert narrowed == ((utc(2026, 3, 3, 15), utc(2026, 3, 4, 4)),)
        disjoint = Window(time(5), time(6, 30))
        assert legal_windows_on(DAY, "America/Mexico_City", disjoint) == ()


class TestPlan:
    def test_same_input_same_route(self) -> None:
        spots = [
            Place(BASE.lat + 0.013 * (i % 3), BASE.lon + 0.011 * i) for i in range(8)
        ]
        plan = day_plan([stop(i, p) for i, p in enumerate(spots)])
        assert plan_route(plan) == plan_route(plan)

    def test_return_leg_counts_in_the_distance(self) -> None:
        away = Place(BASE.lat + 0.05, BASE.lon)
        one_way = plan_route(day_plan([stop(1, away)]))
        round_trip = plan_route(day_plan([stop(1, away)], return_to=BASE))
        assert one_way.return_leg_m == 0
        assert round_trip.return_leg_m == meters(away, BASE)
        assert round_trip.distance_m == 2 * one_way.distance_m
        assert round_trip.finish_at > one_way.finish_at

    def test_no_stops_is_an_empty_day(self) -> None:
        route = plan_route(day_plan([], return_to=Place(BASE.lat + 0.05, BASE.lon)))
        assert (route.stops, route.dropped, route.distance_m) == ([], [], 0)
        assert route.finish_at == MORNING

    def test_rejects_a_speed_of_zero(self) -> None:
        with pytest.raises(ValueError, match="speed_kmh"):
            day_plan([], speed_kmh=0)


class TestMaxStops:
    def test_latest_deadlines_are_day_full(self) -> None:
        # Ten stops side by side, due in reverse order of their numbers.
        stops = [
            RouteStop(
                uuid.UUID(int=i),
                Place(BASE.lat + 0.001 * i, BASE.lon),
                LEGAL,
                deadline=utc(2026, 3, 20) - timedelta(days=i),
            )
            for i in range(10)
        ]
        plan = dataclasses.replace(day_plan(stops), max_stops=4)

        route = plan_route(plan)

        assert sorted(served(route)) == [uuid.UUID(int=i) for i in range(6, 10)]
        assert {d.visit_id for d in route.dropped} == {
            uuid.UUID(int=i) for i in range(6)
        }
        assert {d.reason for d in route.dropped} == {DropReason.DAY_FULL}

    def test_within_the_limit_nothing_is_cut(self) -> None:
        stops = [stop(i, Place(BASE.lat + 0.001 * i, BASE.lon)) for i in range(3)]
        plan = dataclasses.replace(day_plan(stops), max_stops=3)

        assert plan_route(plan).dropped == []

    def test_undated_stops_come_last(self) -> None:
        dated = RouteStop(uuid.UUID(int=1), BASE, LEGAL, deadline=utc(2026, 3, 9))
        undated = RouteStop(uuid.UUID(int=2), BASE, LEGAL)

        kept, over = earliest_due([undated, dated], 1)

        assert kept == (dated,)
        assert over == (undated,)

    def test_rejects_no_stops_at_all(self) -> None:
        with pytest.raises(ValueError, match="max_stops"):
            dataclasses.replace(day_plan([]), max_stops=0)


class TestInsertionDetour:
    def test_on_the_way_costs_almost_nothing(self) -> None:
        a, b = BASE, Place(BASE.lat + 0.1, BASE.lon)
        middle = Place(BASE.lat + 0.05, BASE.lon)
        assert insertion_detour_m([a, b], middle) == pytest.approx(0, abs=1)

    def test_after_the_last_stop_when_cheapest(self) -> None:
        a, b = BASE, Place(BASE.lat + 0.1, BASE.lon)
        beyond = Place(BASE.lat + 0.12, BASE.lon)
        assert insertion_detour_m([a, b], beyond) == pytest.approx(
            great_circle_m(b, beyond)
        )

    def test_needs_the_agent_position(self) -> None:
        with pytest.raises(ValueError, match="position"):
            insertion_detour_m([], BASE)


class TestDayDetour:
    def test_nearest_first_orders_by_nearest_left(self) -> None:
        start = Place(19.0, -99.0)
        far, near, middle = Place(19.0, -98.9), Place(19.0, -98.99), Place(19.0, -98.95)

        assert nearest_first(start, [far, near, middle]) == [near, middle, far]

    def test_no_stops_is_the_straight_distance(self) -> None:
        start, visit = Place(19.0, -99.0), Place(19.01, -99.0)

        assert day_detour_m(start, [], visit) == great_circle_m(start, visit)

    def test_visit_on_the_way_costs_almost_nothing(self) -> None:
        start, stop = Place(19.0, -99.0), Place(19.0, -98.97)
        on_the_way = Place(19.0, -98.985)

        assert day_detour_m(start, [stop], on_the_way) < 1.0
        assert great_circle_m(start, on_the_way) > 1500
