"""Check a file's coordinates against Mexico and against the row's state.

A point from another country (40.7, -74.0 is New York) would give the
account a foreign time zone and send no agent anywhere useful, so such
coordinates are dropped and the address is geocoded instead. A point in
Mexico whose nearest gazetteer place lies in another state than the row's
is kept, with a warning, because either value may be the wrong one.
"""

import math
from collections import defaultdict
from dataclasses import dataclass

from ingest.geocoding.gazetteer import GazetteerIndex, Place
from ingest.geocoding.names import STATE_NAMES, state_code
from ingest.geocoding.timezones import ZONE_BY_MUNICIPALITY, ZONE_BY_STATE, zone_at
from ingest.uploads.normalize import MX_LAT_RANGE, MX_LON_RANGE

# Mexico's zones, as the tz database's zone.tab lists them (checked against
# tzdata 2026f).
MEXICO_ZONES = frozenset(
    {
        *ZONE_BY_STATE.values(),
        *ZONE_BY_MUNICIPALITY.values(),
        "America/Bahia_Banderas",
        "America/Cancun",
        "America/Chihuahua",
        "America/Ciudad_Juarez",
        "America/Hermosillo",
        "America/Matamoros",
        "America/Mazatlan",
        "America/Merida",
        "America/Mexico_City",
        "America/Monterrey",
        "America/Ojinaga",
        "America/Tijuana",
    }
)
GRID_DEGREES = 0.5
MAX_GRID_RINGS = 6
STATE_SPELLING_HINT = (
    "write one of "
    + ", ".join(sorted(STATE_NAMES.values()))
    + " (abbreviations such as CDMX, Edomex or N.L. also work)"
)


@dataclass(frozen=True)
class CoordinateCheck:
    """Whether the file's coordinates can be used, and the warnings to report."""

    usable: bool
    warnings: tuple[str, ...] = ()


def unknown_state_warning(state: str | None) -> str | None:
    """Return a warning for a state name that is not one of Mexico's, else None."""
    if not state or state_code(state) is not None:
        return None
    return f"state {state!r} is not a Mexican state; {STATE_SPELLING_HINT}"


class NearestPlace:
    """Find the gazetteer place nearest to a point, through a grid of cells."""

    def __init__(self, index: GazetteerIndex) -> None:
        self._cells: dict[tuple[int, int], list[Place]] = defaultdict(list)
        seen: set[int] = set()
        for places in index.by_name.values():
            for place in places:
                if id(place) not in seen:
                    seen.add(id(place))
                    self._cells[_cell(place.lat, place.lon)].append(place)

    def nearest(self, lat: float, lon: float) -> Place | None:
        row, column = _cell(lat, lon)
        for ring in range(MAX_GRID_RINGS + 1):
            found = [
                place
                for d_row in range(-ring, ring + 1)
                for d_column in range(-ring, ring + 1)
                if max(abs(d_row), abs(d_column)) == ring
                for place in self._cells.get((row + d_row, column + d_column), [])
            ]
            if found:
                # One more ring can hold a nearer place than this ring's best,
                # so the search ends one ring after the first hit.
                found += [
                    place
                    for d_row in range(-ring - 1, ring + 2)
                    for d_column in range(-ring - 1, ring + 2)
                    if max(abs(d_row), abs(d_column)) == ring + 1
                    for place in self._cells.get((row + d_row, column + d_column), [])
                ]
                return min(found, key=lambda place: _squared(place, lat, lon))
        return None


def check_coordinates(
    lat: float,
    lon: float,
    state: str | None,
    places: NearestPlace,
    *,
    keep_foreign: bool = False,
) -> CoordinateCheck:
    """Check file coordinates against Mexico's extent, zones and the row's state.

    Coordinates outside Mexico are unusable unless `keep_foreign` is set.
    """
    point = f"{lat:.5f}, {lon:.5f}"
    action = (
        "they were kept, because INGEST_FOREIGN_COORDINATES is keep"
        if keep_foreign
        else "they were ignored and the address was geocoded instead"
    )
    in_box = (
        MX_LAT_RANGE[0] <= lat <= MX_LAT_RANGE[1]
        and MX_LON_RANGE[0] <= lon <= MX_LON_RANGE[1]
    )
    zone = zone_at(lat, lon)
    state_clause = f" while the state column says {state!r}" if state else ""
    if not in_box:
        return CoordinateCheck(
            keep_foreign,
            (
                f"coordinates {point} are outside Mexico{state_clause}; {action}. "
                "Check the latitude and longitude columns",
            ),
        )
    if zone is not None and zone not in MEXICO_ZONES:
        return CoordinateCheck(
            keep_foreign,
            (
                f"coordinates {point} fall in time zone {zone}, outside Mexico"
                f"{state_clause}; {action}. Check the latitude and longitude columns",
            ),
        )
    code = state_code(state)
    nearest = places.nearest(lat, lon) if code is not None else None
    if nearest is not None and nearest.state != code:
        return CoordinateCheck(
            True,
            (
                f"coordinates {point} are nearest to {nearest.name}, "
                f"{STATE_NAMES[nearest.state]}, but the state column says "
                f"{state!r}; check the coordinates or the state",
            ),
        )
    return CoordinateCheck(True)


def _cell(lat: float, lon: float) -> tuple[int, int]:
    return math.floor(lat / GRID_DEGREES), math.floor(lon / GRID_DEGREES)


def _squared(place: Place, lat: float, lon: float) -> float:
    # Planar distance, scaled for the longitude's shrinking at this latitude;
    # close enough to rank places a few kilometres apart.
    scale = math.cos(math.radians(lat))
    return (place.lat - lat) ** 2 + ((place.lon - lon) * scale) ** 2
