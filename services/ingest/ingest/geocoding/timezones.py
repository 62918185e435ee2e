"""The IANA time zone of an address: from its coordinates, else from its state.

Coordinates are looked up in the time-zone boundaries that `timezonefinder`
ships. The state table is the fallback, taken from the tz database's
`zone.tab` (2022 and later, after Mexico dropped daylight saving time
outside the northern border strip). Border municipalities that keep the
United States' clock are listed apart, by municipality.
"""

import functools
from dataclasses import dataclass

from timezonefinder import TimezoneFinder

from ingest.geocoding.names import STATE_NAMES, fold, state_code

ZONE_BY_STATE = {
    "AGU": "America/Mexico_City",
    "BCN": "America/Tijuana",
    "BCS": "America/Mazatlan",
    "CAM": "America/Merida",
    "CHP": "America/Mexico_City",
    "CHH": "America/Chihuahua",
    "CMX": "America/Mexico_City",
    "COA": "America/Monterrey",
    "COL": "America/Mexico_City",
    "DUR": "America/Monterrey",
    "GUA": "America/Mexico_City",
    "GRO": "America/Mexico_City",
    "HID": "America/Mexico_City",
    "JAL": "America/Mexico_City",
    "MEX": "America/Mexico_City",
    "MIC": "America/Mexico_City",
    "MOR": "America/Mexico_City",
    "NAY": "America/Mazatlan",
    "NLE": "America/Monterrey",
    "OAX": "America/Mexico_City",
    "PUE": "America/Mexico_City",
    "QUE": "America/Mexico_City",
    "ROO": "America/Cancun",
    "SLP": "America/Mexico_City",
    "SIN": "America/Mazatlan",
    "SON": "America/Hermosillo",
    "TAB": "America/Mexico_City",
    "TAM": "America/Monterrey",
    "TLA": "America/Mexico_City",
    "VER": "America/Mexico_City",
    "YUC": "America/Merida",
    "ZAC": "America/Mexico_City",
}

# Municipalities whose zone differs from their state's. Only the largest
# border municipalities are listed, so a state in STATES_WITH_EXCEPTIONS
# warns that its fallback zone may be wrong for the others.
ZONE_BY_MUNICIPALITY = {
    ("CHH", "juarez"): "America/Ciudad_Juarez",
    ("CHH", "ojinaga"): "America/Ojinaga",
    ("COA", "piedras negras"): "America/Matamoros",
    ("COA", "acuna"): "America/Matamoros",
    ("NLE", "anahuac"): "America/Matamoros",
    ("TAM", "nuevo laredo"): "America/Matamoros",
    ("TAM", "reynosa"): "America/Matamoros",
    ("TAM", "matamoros"): "America/Matamoros",
    ("TAM", "rio bravo"): "America/Matamoros",
    ("NAY", "bahia de banderas"): "America/Bahia_Banderas",
}
STATES_WITH_EXCEPTIONS = frozenset(state for state, _ in ZONE_BY_MUNICIPALITY)


@dataclass(frozen=True)
class ZoneLookup:
    """A zone, or None, with a warning when it did not come from coordinates."""

    zone: str | None
    warning: str | None = None


@functools.cache
def _finder() -> TimezoneFinder:
    return TimezoneFinder()


# Geocoded accounts share their locality's point, so most lookups repeat.
@functools.lru_cache(maxsize=65_536)
def zone_at(lat: float, lon: float) -> str | None:
    """Return the zone at a point on land, or None at sea (an `Etc/` zone)."""
    zone = _finder().timezone_at(lat=lat, lng=lon)
    if zone is None or zone.startswith("Etc/"):
        return None
    return zone


def zone_for_address(state: str | None, municipality: str | None) -> ZoneLookup:
    """Return the zone of the municipality, or of its state, with a warning."""
    code = state_code(state)
    if code is None:
        return ZoneLookup(
            None, "no time zone: the account has no coordinates and no known state"
        )
    exception = ZONE_BY_MUNICIPALITY.get((code, fold(municipality or "")))
    if exception is not None:
        return ZoneLookup(
            exception,
            f"time zone {exception} taken from the municipality, without coordinates",
        )
    zone = ZONE_BY_STATE[code]
    warning = f"time zone {zone} taken from the state, without coordinates"
    if code in STATES_WITH_EXCEPTIONS:
        warning += (
            f"; some border municipalities of {STATE_NAMES[code]} keep another "
            "clock, so add coordinates to be sure"
        )
    return ZoneLookup(zone, warning)
