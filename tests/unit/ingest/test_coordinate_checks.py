import pytest

from ingest.geocoding.crosscheck import (
    NearestPlace,
    check_coordinates,
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
