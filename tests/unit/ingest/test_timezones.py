import pytest

from ingest.geocoding.base import AddressQuery
from ingest.geocoding.gazetteer import locate, packaged_index
from ingest.geocoding.names import STATES
from ingest.geocoding.timezones import (
    ZONE_BY_MUNICIPALITY,
    ZONE_BY_STATE,
    zone_at,
    zone_for_address,
)

STATE_NAMES = {state.code: state.name for state in STATES}


class TestZoneAt:
    @pytest.mark.parametrize(
        ("place", "lat", "lon", "zone"),
        [
            ("Tijuana", 32.5027, -117.00371, "America/Tijuana"),
            ("Cancún", 21.17429, -86.84656, "America/Cancun"),
            ("Hermosillo", 29.1026, -110.97732, "America/Hermosillo"),
            ("Ciudad Juárez", 31.73333, -106.48333, "America/Ciudad_Juarez"),
            ("Ciudad de México", 19.42847, -99.12766, "America/Mexico_City"),
            ("Chihuahua", 28.63528, -106.08889, "America/Chihuahua"),
            ("Mérida", 20.97537, -89.61696, "America/Merida"),
        ],
    )
    def test_point_gives_zone(self, place, lat, lon, zone):
        assert zone_at(lat, lon) == zone, place

    def test_open_sea_has_no_zone(self):
        assert zone_at(15.0, -105.0) is None


class TestZoneForAddress:
    def test_border_municipality_has_own_zone(self):
        found = zone_for_address("Chihuahua", "Juárez")
        assert found.zone == "America/Ciudad_Juarez"
        assert found.warning is not None
        assert "without coordinates" in found.warning

    def test_border_state_falls_back_with_warning(self):
        found = zone_for_address("Chihuahua", "Praxedis G. Guerrero")
        assert found.zone == "America/Chihuahua"
        assert found.warning is not None
        assert "border municipalities of Chihuahua" in found.warning

    def test_state_abbreviation_accepted(self):
        found = zone_for_address("Q. Roo", None)
        assert found.zone == "America/Cancun"
        assert found.warning is not None
        assert "border" not in found.warning

    def test_unknown_state_has_no_zone(self):
        found = zone_for_address("Texas", "Houston")
        assert found.zone is None
        assert found.warning is not None


class TestTablesAgreeWithBoundaries:
    """The fallback tables must give the zone the boundaries give."""

    def test_each_state_zone_is_its_most_common(self):
        zones_by_state: dict[str, dict[str, int]] = {}
        for places in packaged_index().by_name.values():
            for place in places:
                zone = zone_at(place.lat, place.lon)
                counts = zones_by_state.setdefault(place.state, {})
                counts[zone] = counts.get(zone, 0) + 1
        for state, zone in ZONE_BY_STATE.items():
            counts = zones_by_state[state]
            assert max(counts, key=counts.__getitem__) == zone, (state, counts)

    @pytest.mark.parametrize(("state", "municipality"), list(ZONE_BY_MUNICIPALITY))
    def test_border_municipality_zone_matches(self, state, municipality):
        outcome = locate(
            packaged_index(),
            AddressQuery(municipality=municipality, state=STATE_NAMES[state]),
        )
        assert outcome.result is not None, outcome.warning
        zone = zone_at(outcome.result.lat, outcome.result.lon)
        assert zone == ZONE_BY_MUNICIPALITY[(state, municipality)]
