"""Check a file's coordinates against Mexico and against the row's state.

A point from another country (40.7, -74.0 is New York) would give the
account a foreign time zone and send no agent anywhere useful, so such
coordinates are dropped and the address is geocoded instead. A point in
Mexico whose nearest gazetteer place lies in another state than the row's
is kept, with a warning, because either value may be the wrong one.
"""

import functools
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy.spatial import cKDTree

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
# A place farther than this from a point is not evidence of its state.
MAX_NEAREST_KM = 300.0
_EARTH_RADIUS_KM = 6371.0
_MAX_CHORD = 2 * math.sin(MAX_NEAREST_KM / _EARTH_RADIUS_KM / 2)
STATE_SPELLING_HINT = (
    "write one of "
    + ", ".join(sorted(STATE_NAMES.values()))
    + " (abbreviations such as CDMX, Edomex or N.L. also work)"
)


@dataclass(frozen=True, slots=True)
class CoordinateCheck:
    """Whether the file's coordinates can be used, and the warnings to report."""

    usable: bool
    warnings: tuple[str, ...] = ()
    # The time zone at the point, None at sea.
    zone: str | None = None


def unknown_state_warning(state: str | None) -> str | None:
    """Return a warning for a state name that is not one of Mexico's, else None."""
    if not state or state_code(state) is not None:
        return None
    return f"state {state!r} is not a Mexican state; {STATE_SPELLING_HINT}"


class NearestPlace:
    """Find the gazetteer place nearest to points, by great-circle distance.

    The places sit in a k-d tree over their positions on the unit sphere,
    where the straight-line distance between two points grows with the
    great-circle distance, so the tree's nearest neighbour is the nearest
    place. A whole upload's points are looked up in one call.
    """

    def __init__(self, index: GazetteerIndex) -> None:
        unique: dict[int, Place] = {}
        for places in index.by_name.values():
            for place in places:
                unique.setdefault(id(place), place)
        self._places = list(unique.values())
        self._tree = cKDTree(
            _unit_vectors([(place.lat, place.lon) for place in self._places])
        )

    def nearest(self, lat: float, lon: float) -> Place | None:
        return self.nearest_many([(lat, lon)])[0]

    def nearest_many(self, points: Sequence[tuple[float, float]]) -> list[Place | None]:
        """Return the nearest place to each point, or None beyond MAX_NEAREST_KM."""
        if not points:
            return []
        _, found = self._tree.query(
            _unit_vectors(points), distance_upper_bound=_MAX_CHORD
        )
        count = len(self._places)
        return [self._places[index] if index < count else None for index in found]


def _unit_vectors(points: Sequence[tuple[float, float]]) -> np.ndarray:
    radians = np.radians(np.asarray(points, dtype=float).reshape(-1, 2))
    lat, lon = radians[:, 0], radians[:, 1]
    return np.column_stack(
        (np.cos(lat) * np.cos(lon), np.cos(lat) * np.sin(lon), np.sin(lat))
    )


def check_coordinates(
    lat: float,
    lon: float,
    state: str | None,
    places: NearestPlace,
    *,
    keep_foreign: bool = False,
) -> CoordinateCheck:
    """Check one point; see `check_many`."""
    return check_many([(lat, lon, state)], places, keep_foreign=keep_foreign)[0]


def check_many(
    points: Sequence[tuple[float, float, str | None]],
    places: NearestPlace,
    *,
    keep_foreign: bool = False,
) -> list[CoordinateCheck]:
    """Check file coordinates against Mexico's extent, zones and the row's state.

    `points` holds (latitude, longitude, state column) per row. Coordinates
    outside Mexico are unusable unless `keep_foreign` is set. The nearest
    places of all points are looked up together.
    """
    checks: list[CoordinateCheck] = []
    to_compare: list[tuple[int, str]] = []
    for lat, lon, state in points:
        zone = zone_at(lat, lon)
        warning = _foreign_warning(lat, lon, zone, state, keep_foreign)
        if warning is not None:
            checks.append(CoordinateCheck(keep_foreign, (warning,), zone))
            continue
        code = state_code(state)
        if code is not None:
            to_compare.append((len(checks), code))
        checks.append(_usable_in(zone))
    nearest = places.nearest_many([points[index][:2] for index, _ in to_compare])
    for (index, code), place in zip(to_compare, nearest, strict=True):
        if place is None or place.state == code:
            continue
        lat, lon, state = points[index]
        warning = (
            f"coordinates {lat:.5f}, {lon:.5f} are nearest to {place.name}, "
            f"{STATE_NAMES[place.state]}, but the state column says "
            f"{state!r}; check the coordinates or the state"
        )
        checks[index] = CoordinateCheck(True, (warning,), checks[index].zone)
    return checks


@functools.lru_cache(maxsize=256)
def _usable_in(zone: str | None) -> CoordinateCheck:
    # Most points of a file are usable; one shared check per zone saves an
    # object per row.
    return CoordinateCheck(True, (), zone)


def _foreign_warning(
    lat: float, lon: float, zone: str | None, state: str | None, keep_foreign: bool
) -> str | None:
    """Explain why a point lies outside Mexico, or return None for one inside."""
    in_box = (
        MX_LAT_RANGE[0] <= lat <= MX_LAT_RANGE[1]
        and MX_LON_RANGE[0] <= lon <= MX_LON_RANGE[1]
    )
    if in_box and (zone is None or zone in MEXICO_ZONES):
        return None
    action = (
        "they were kept, because INGEST_FOREIGN_COORDINATES is keep"
        if keep_foreign
        else "they were ignored and the address was geocoded instead"
    )
    state_clause = f" while the state column says {state!r}" if state else ""
    where = (
        "are outside Mexico"
        if not in_box
        else f"fall in time zone {zone}, outside Mexico"
    )
    return (
        f"coordinates {lat:.5f}, {lon:.5f} {where}{state_clause}; {action}. "
        "Check the latitude and longitude columns"
    )
