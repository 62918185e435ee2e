import itertools
import uuid

import pytest

from ingest.geocoding.base import AddressQuery, RequestBudget
from ingest.geocoding.gazetteer import GazetteerGeocoder
from ingest.geocoding.nominatim import NominatimGeocoder
from ingest.geocoding.service import FallbackGeocoder
from ingest.settings import IngestSettings
from shared.db import create_engine, create_sessionmaker
from shared.events.payloads import LocationPrecision, LocationSource
from tests.fixtures.geocoding_provider import Reply, place, running_provider


@pytest.fixture
def provider():
    with running_provider() as provider:
        yield provider


@pytest.fixture
async def sessionmaker():
    engine = create_engine(IngestSettings().database_url, pool_size=2)
    yield create_sessionmaker(engine)
    await engine.dispose()


@pytest.fixture
def make_geocoder(provider, sessionmaker):
    def make(**overrides: float) -> NominatimGeocoder:
        options = {
            "timeout_seconds": 2.0,
            "requests_per_second": 50.0,
            "max_requests_per_upload": 100,
        } | overrides
        return NominatimGeocoder(
            base_url=provider.url,
            sessionmaker=sessionmaker,
            user_agent="campo-tests",
            **options,
        )

    return make


def street() -> str:
    """Return a street name no other test uses, so the shared cache starts empty."""
    return f"Calle {uuid.uuid4().hex[:8]}"


class TestNominatimGeocoder:
    async def test_found_address_sent_as_search(self, provider, make_geocoder):
        name = street()
        provider.replies[name] = Reply(places=[place(20.67, -103.35)])
        query = AddressQuery(street=name, exterior_number="10", state="Jalisco")
        [outcome] = await make_geocoder().geocode([query])
        assert outcome.result is not None
        assert outcome.result.lat == 20.67
        assert outcome.result.lon == -103.35
        assert outcome.result.precision is LocationPrecision.ROOFTOP
        assert outcome.result.source is LocationSource.NOMINATIM
        [request] = provider.requests_for(name)
        assert request.path == "/search"
        assert request.params["countrycodes"] == "mx"
        assert request.params["format"] == "jsonv2"
        assert request.params["q"] == f"{name} 10, Jalisco"
        assert request.user_agent == "campo-tests"

    async def test_cache_hit_makes_no_request(self, provider, make_geocoder):
        name = street()
        provider.replies[name] = Reply(places=[place(20.67, -103.35, "road")])
        await make_geocoder().geocode([AddressQuery(street=name, state="Jalisco")])
        # A new geocoder, as after a restart; accents and case differ.
        respelled = AddressQuery(street=name.upper(), state="JALÍSCO")
        [outcome] = await make_geocoder().geocode([respelled])
        assert len(provider.requests_for(name)) == 1
        assert outcome.result is not None
        assert outcome.result.source is LocationSource.CACHE
        assert outcome.result.precision is LocationPrecision.STREET
        assert outcome.result.lat == 20.67

    async def test_repeated_address_sent_once(self, provider, make_geocoder):
        name = street()
        provider.replies[name] = Reply(places=[place(19.4, -99.1)])
        query = AddressQuery(street=name, state="CDMX")
        outcomes = await make_geocoder().geocode([query, query])
        assert len(provider.requests_for(name)) == 1
        assert [o.result is not None for o in outcomes] == [True, True]

    async def test_not_found_is_cached(self, provider, make_geocoder):
        name = street()
        provider.replies[name] = Reply(places=[])
        query = AddressQuery(street=name, state="Jalisco")
        [first] = await make_geocoder().geocode([query])
        [second] = await make_geocoder().geocode([query])
        assert first.result is None
        assert second.result is None
        assert second.warning is not None
        assert "found no such address" in second.warning
        assert len(provider.requests_for(name)) == 1

    async def test_rate_limit_spaces_requests(self, provider, make_geocoder):
        names = [street() for _ in range(4)]
        for name in names:
            provider.replies[name] = Reply(places=[place(19.4, -99.1)])
        geocoder = make_geocoder(requests_per_second=5.0)
        await geocoder.geocode([AddressQuery(street=name) for name in names])
        arrivals = [provider.requests_for(name)[0].arrived_at for name in names]
        gaps = [later - earlier for earlier, later in itertools.pairwise(arrivals)]
        assert len(gaps) == 3
        # 5 per second is 0.2 s apart; arrival times at the server also carry
        # connection setup, so each gap may come in a little short.
        for gap in gaps:
            assert gap >= 0.15
        assert arrivals[-1] - arrivals[0] >= 0.55

    async def test_provider_error_leaves_unplaced(self, provider, make_geocoder):
        name = street()
        provider.replies[name] = Reply(status=500)
        query = AddressQuery(street=name, state="Jalisco")
        [outcome] = await make_geocoder().geocode([query])
        assert outcome.result is None
        assert outcome.warning is not None
        assert "HTTP 500" in outcome.warning
        # A failure is not cached, so the next upload sends the request again.
        await make_geocoder().geocode([query])
        assert len(provider.requests_for(name)) == 2

    async def test_timeout_leaves_unplaced(self, provider, make_geocoder):
        name = street()
        provider.replies[name] = Reply(places=[place(19.4, -99.1)], delay_seconds=1.0)
        geocoder = make_geocoder(timeout_seconds=0.2)
        [outcome] = await geocoder.geocode([AddressQuery(street=name)])
        assert outcome.result is None
        assert outcome.warning is not None
        assert "timed out" in outcome.warning

    async def test_malformed_reply_leaves_unplaced(self, provider, make_geocoder):
        name = street()
        provider.replies[name] = Reply(places=[{"lat": "north", "lon": "-99"}])
        [outcome] = await make_geocoder().geocode([AddressQuery(street=name)])
        assert outcome.result is None
        assert outcome.warning is not None
        assert "no valid lat and lon" in outcome.warning

    async def test_request_budget_skips_the_rest(self, provider, make_geocoder):
        names = [street() for _ in range(3)]
        for name in names:
            provider.replies[name] = Reply(places=[place(19.4, -99.1)])
        geocoder = make_geocoder(max_requests_per_upload=2)
        outcomes = await geocoder.geocode([AddressQuery(street=n) for n in names])
        assert [o.result is not None for o in outcomes] == [True, True, False]
        assert provider.requests_for(names[2]) == []

    async def test_budget_shared_by_batches_of_one_upload(
        self, provider, make_geocoder
    ):
        names = [street() for _ in range(3)]
        for name in names:
            provider.replies[name] = Reply(places=[place(19.4, -99.1)])
        geocoder = make_geocoder(max_requests_per_upload=2)
        budget = RequestBudget()
        first = await geocoder.geocode([AddressQuery(street=names[0])], budget)
        rest = await geocoder.geocode(
            [AddressQuery(street=name) for name in names[1:]], budget
        )
        assert [o.result is not None for o in first + rest] == [True, True, False]
        assert budget.spent == 2
        assert provider.requests_for(names[2]) == []


class TestFallbackGeocoder:
    async def test_gazetteer_places_after_provider_error(self, provider, make_geocoder):
        name = street()
        provider.replies[name] = Reply(status=503)
        geocoder = FallbackGeocoder(make_geocoder(), GazetteerGeocoder())
        query = AddressQuery(street=name, municipality="Zapopan", state="Jalisco")
        [outcome] = await geocoder.geocode([query])
        assert outcome.result is not None
        assert outcome.result.source is LocationSource.GAZETTEER
        assert outcome.warning is None

    async def test_state_only_result_goes_to_gazetteer(self, provider, make_geocoder):
        name = street()
        provider.replies[name] = Reply(places=[place(20.5, -103.5, "state")])
        geocoder = FallbackGeocoder(make_geocoder(), GazetteerGeocoder())
        query = AddressQuery(street=name, municipality="Tonalá", state="Jalisco")
        [outcome] = await geocoder.geocode([query])
        assert outcome.result is not None
        assert outcome.result.source is LocationSource.GAZETTEER
        assert outcome.result.precision is LocationPrecision.LOCALITY

    async def test_both_failing_keeps_both_reasons(self, provider, make_geocoder):
        name = street()
        provider.replies[name] = Reply(status=500)
        geocoder = FallbackGeocoder(make_geocoder(), GazetteerGeocoder())
        query = AddressQuery(street=name, municipality="Atlantis", state="Jalisco")
        [outcome] = await geocoder.geocode([query])
        assert outcome.result is None
        assert outcome.warning is not None
        assert "HTTP 500" in outcome.warning
        assert "Atlantis" in outcome.warning
