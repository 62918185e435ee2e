import pytest

from ingest.geocoding.base import AddressQuery
from ingest.geocoding.gazetteer import (
    GazetteerGeocoder,
    GazetteerIndex,
    Place,
    locate,
    packaged_index,
)
from ingest.geocoding.names import state_code
from shared.events.payloads import LocationPrecision, LocationSource

# Two towns named alike in different states and municipalities, a colonia
# named like a town elsewhere, and a municipality known only as admin2.
PLACES = [
    Place("Hermosillo", "SON", "", 29.1026, -110.97732),
    Place("Hermosillo", "BCN", "", 32.51097, -114.92278),
    Place("San Miguel", "JAL", "Tlaquepaque", 20.60, -103.30),
    Place("San Miguel", "JAL", "Tonalá", 20.62, -103.24),
    Place("Tlaquepaque", "JAL", "", 20.64, -103.31),
    Place("Tonalá", "JAL", "", 20.62, -103.23),
    Place("Roma", "TAM", "", 26.40, -99.00),
    Place("Coyoacan", "CMX", "", 19.3467, -99.16174),
    Place("Colonia del Valle", "CMX", "", 19.38611, -99.16204),
    Place("Benito Juarez", "CMX", "", 19.3984, -99.15766),
    Place("Ciudad Juarez", "CHH", "", 31.73333, -106.48333),
    Place("Ecatepec", "MEX", "", 19.61725, -99.06601),
    Place("Santa Cruz", "MEX", "Nicolás Romero", 19.63, -99.31),
    Place("Loma Alta", "MEX", "Nicolás Romero", 19.65, -99.35),
]


@pytest.fixture(scope="module")
def index() -> GazetteerIndex:
    return GazetteerIndex(PLACES)


def placed_at(index: GazetteerIndex, **address: str) -> tuple[float, float] | None:
    outcome = locate(index, AddressQuery(**address))
    return None if outcome.result is None else (outcome.result.lat, outcome.result.lon)


class TestStateNames:
    @pytest.mark.parametrize(
        ("spelling", "code"),
        [
            ("CDMX", "CMX"),
            ("Ciudad de México", "CMX"),
            ("CIUDAD DE MEXICO", "CMX"),
            ("Distrito Federal", "CMX"),
            ("D.F.", "CMX"),
            ("Edo. Méx.", "MEX"),
            ("Estado de México", "MEX"),
            ("México", "MEX"),
            ("EDOMEX", "MEX"),
            ("Nuevo León", "NLE"),
            ("N.L.", "NLE"),
            ("Q. Roo", "ROO"),
            ("Michoacán de Ocampo", "MIC"),
            ("Veracruz de Ignacio de la Llave", "VER"),
            ("Estado de Jalisco", "JAL"),
            ("S.L.P.", "SLP"),
        ],
    )
    def test_spelling_maps_to_state(self, spelling, code):
        assert state_code(spelling) == code

    @pytest.mark.parametrize("spelling", ["", "Texas", "Estado", None])
    def test_unknown_state_is_none(self, spelling):
        assert state_code(spelling) is None


class TestLocate:
    def test_accents_and_case_ignored(self, index):
        spelled = placed_at(index, municipality="COYOACÁN", state="cdmx")
        assert spelled == (19.3467, -99.16174)

    def test_colonia_wins_over_municipality(self, index):
        found = placed_at(
            index, colonia="Del Valle", municipality="Benito Juárez", state="CDMX"
        )
        assert found == (19.38611, -99.16204)

    def test_abbreviated_prefixes_match(self, index):
        assert placed_at(index, municipality="Juárez", state="Chih.") == (
            31.73333,
            -106.48333,
        )
        found = placed_at(index, colonia="Col. del Valle", state="D.F.")
        assert found == (19.38611, -99.16204)

    def test_de_tail_of_municipality_ignored(self, index):
        found = placed_at(index, municipality="Ecatepec de Morelos", state="Edo. Méx.")
        assert found == (19.61725, -99.06601)

    def test_state_resolves_ambiguous_name(self, index):
        assert placed_at(index, municipality="Hermosillo", state="Sonora") == (
            29.1026,
            -110.97732,
        )
        assert placed_at(index, municipality="Hermosillo", state="B.C.") == (
            32.51097,
            -114.92278,
        )

    def test_ambiguous_name_without_state_unplaced(self, index):
        outcome = locate(index, AddressQuery(municipality="Hermosillo"))
        assert outcome.result is None
        assert outcome.warning is not None
        assert "2 places" in outcome.warning
        assert "Sonora" in outcome.warning

    def test_municipality_resolves_ambiguous_colonia(self, index):
        found = placed_at(
            index, colonia="San Miguel", municipality="Tonalá", state="Jalisco"
        )
        assert found == (20.62, -103.24)

    def test_ambiguous_colonia_falls_back_to_municipality(self, index):
        found = placed_at(index, colonia="San Miguel", state="Jalisco")
        assert found is None
        found = placed_at(
            index, colonia="San Miguel", municipality="Tonalá ", state="Jal."
        )
        assert found == (20.62, -103.24)

    def test_colonia_in_other_state_ignored(self, index):
        # `Roma` exists in Tamaulipas; the colonia Roma of Mexico City is not in
        # the extract, so the account is placed at its municipality instead.
        found = placed_at(
            index, colonia="Roma", municipality="Coyoacán", state="Ciudad de México"
        )
        assert found == (19.3467, -99.16174)

    def test_municipality_known_only_as_admin2(self, index):
        found = placed_at(index, municipality="Nicolás Romero", state="México")
        assert found in {(19.63, -99.31), (19.65, -99.35)}

    def test_unknown_locality_unplaced_with_reason(self, index):
        outcome = locate(
            index,
            AddressQuery(colonia="Narnia", municipality="Atlantis", state="Jalisco"),
        )
        assert outcome.result is None
        assert outcome.warning is not None
        assert "Narnia / Atlantis" in outcome.warning
        assert "Jalisco" in outcome.warning

    def test_unknown_state_unplaced(self, index):
        outcome = locate(index, AddressQuery(municipality="Coyoacán", state="Texas"))
        assert outcome.result is None
        assert outcome.warning is not None
        assert "'Texas'" in outcome.warning

    def test_state_alone_unplaced(self, index):
        outcome = locate(index, AddressQuery(state="Jalisco"))
        assert outcome.result is None
        assert outcome.warning is not None

    def test_result_is_locality_from_gazetteer(self, index):
        outcome = locate(index, AddressQuery(municipality="Tonalá", state="Jalisco"))
        assert outcome.result is not None
        assert outcome.result.precision is LocationPrecision.LOCALITY
        assert outcome.result.source is LocationSource.GAZETTEER


class TestPackagedGazetteer:
    async def test_real_places_found(self):
        queries = [
            AddressQuery(
                colonia="Polanco", municipality="Miguel Hidalgo", state="CDMX"
            ),
            AddressQuery(municipality="Zapopan", state="Jalisco"),
            AddressQuery(municipality="Tijuana", state="Baja California"),
            AddressQuery(municipality="Cancún", state="Quintana Roo"),
            AddressQuery(municipality="Nezahualcóyotl", state="Estado de México"),
        ]
        outcomes = await GazetteerGeocoder().geocode(queries)
        for query, outcome in zip(queries, outcomes, strict=True):
            assert outcome.result is not None, (query, outcome.warning)

    def test_index_covers_every_state(self):
        states = {
            place.state
            for places in packaged_index().by_name.values()
            for place in places
        }
        assert len(states) == 32
