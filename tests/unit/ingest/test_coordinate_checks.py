import math
import random

import pytest

from ingest.geocoding.crosscheck import (
    MAX_NEAREST_KM,
    NearestPlace,
    check_coordinates,
    check_many,
    unknown_state_warning,
)
from ingest.geocoding.gazetteer import packaged_index


@pytest.fixture(scope="module")
def places() -> NearestPlace:
    return NearestPlace(packaged_index())


class TestCheckCoordinates:
    def test_new_york_not_used(self, places):
        check = check_coordinates(40.7, -74.0, "CDMX", places)

        assert check.usable is False
        assert "outside Mexico" in check.warnings[0]
        assert "'CDMX'" in check.warnings[0]

    def test_foreign_zone_inside_box(self, places):
        # El Paso, Texas, lies inside Mexico's bounding box.
        check = check_coordinates(31.7619, -106.4850, "Chihuahua", places)

        assert check.usable is False
        assert "America/Denver" in check.warnings[0]

    def test_other_state_warned(self, places):
        # Guadalajara's centre, with the state column saying CDMX.
        check = check_coordinates(20.6767, -103.3475, "CDMX", places)

        assert check.usable is True
        assert "Jalisco" in check.warnings[0]
        assert "'CDMX'" in check.warnings[0]

    def test_matching_state_silent(self, places):
        check = check_coordinates(19.4326, -99.1332, "Ciudad de México", places)

        assert check.usable is True
        assert check.warnings == ()


def test_nearest_place_in_state(places):
    nearest = places.nearest(20.6767, -103.3475)

    assert nearest is not None
    assert nearest.state == "JAL"


def test_unknown_state_lists_names():
    warning = unknown_state_warning("Narnia")

    assert warning is not None
    assert "'Narnia'" in warning
    assert "Jalisco" in warning
    assert "CDMX" in warning
    assert unknown_state_warning("Edomex") is None
    assert unknown_state_warning(None) is None


def test_foreign_point_kept_when_set(places):
    check = check_coordinates(-40.0, -120.0, None, places, keep_foreign=True)

    assert check.usable is True
    assert "outside Mexico" in check.warnings[0]
    assert "kept" in check.warnings[0]


def _great_circle_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    lat1, lon1, lat2, lon2 = map(math.radians, (lat1, lon1, lat2, lon2))
    hav = (
        math.sin((lat2 - lat1) / 2) ** 2
        + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    )
    return 2 * 6371.0 * math.asin(math.sqrt(hav))


def test_nearest_many_matches_full_scan(places):
    everything = {
        id(place): place
        for found in packaged_index().by_name.values()
        for place in found
    }.values()
    rng = random.Random(7)
    points = [(rng.uniform(14.5, 32.5), rng.uniform(-118.0, -87.0)) for _ in range(300)]

    found = places.nearest_many(points)

    for (lat, lon), place in zip(points, found, strict=True):
        distances = sorted(
            (_great_circle_km(lat, lon, other.lat, other.lon), other.name)
            for other in everything
        )
        best_km, _ = distances[0]
        if best_km > MAX_NEAREST_KM:
            assert place is None
            continue
        assert place is not None
        # Places at the same distance may come back in either order.
        assert _great_circle_km(lat, lon, place.lat, place.lon) == pytest.approx(
            best_km, abs=1e-6
        )


def test_nearest_none_far_from_places(places):
    # The middle of the Pacific, thousands of kilometres from any town.
    assert places.nearest(0.0, -140.0) is None


def test_check_many_matches_single_checks(places):
    points = [
        (40.7, -74.0, "CDMX"),
        (20.6767, -103.3475, "CDMX"),
        (19.4326, -99.1332, "Ciudad de México"),
        (31.7619, -106.4850, "Chihuahua"),
        (25.6866, -100.3161, None),
    ]

    together = check_many(points, places)

    assert together == [check_coordinates(*point, places) for point in points]
    assert together[2].zone == "America/Mexico_City"
    assert together[4].zone == "America/Monterrey"
