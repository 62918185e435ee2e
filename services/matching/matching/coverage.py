"""An agent's coverage area as a GeoJSON polygon, checked before it is stored.

The area replaces the coverage circle when set. Every point of it must lie
within `MAX_COVERAGE_RADIUS_M` of the agent's base, because the candidate
search first narrows agents to that distance with the index on their bases.
"""

import math
from typing import Any

from shapely import MultiPolygon, Polygon
from shapely.geometry import shape
from shapely.validation import explain_validity

from matching.models import MAX_COVERAGE_RADIUS_M

MAX_COVERAGE_AREA_KM2 = 20_000
MAX_COVERAGE_VERTICES = 10_000
EARTH_MEAN_RADIUS_M = 6_371_008.8


def _rings(geojson: dict[str, Any]) -> list[list[Any]]:
    coordinates = geojson.get("coordinates")
    if not isinstance(coordinates, list) or not coordinates:
        raise ValueError("coverage area has no coordinates")
    polygons = coordinates if geojson["type"] == "MultiPolygon" else [coordinates]
    rings: list[list[Any]] = []
    for polygon in polygons:
        if not isinstance(polygon, list) or not polygon:
            raise ValueError("coverage area has a polygon with no rings")
        rings.extend(polygon)
    return rings


def _check_positions(rings: list[list[Any]]) -> None:
    count = 0
    for ring in rings:
        if not isinstance(ring, list) or len(ring) < 4:
            raise ValueError(
                "coverage area has a ring of fewer than 4 positions; a ring "
                "lists at least 3 corners and repeats the first at the end"
            )
        for position in ring:
            if (
                not isinstance(position, list)
                or len(position) not in (2, 3)
                or not all(
                    isinstance(v, int | float) and math.isfinite(v) for v in position
                )
            ):
                raise ValueError(
                    f"coverage area position {position!r} is not [lon, lat]"
                )
            lon, lat = position[0], position[1]
            if not (-180 <= lon <= 180 and -90 <= lat <= 90):
                raise ValueError(
                    f"coverage area position [{lon}, {lat}] is out of range: "
                    "GeoJSON lists longitude (-180..180) before latitude (-90..90)"
                )
        if ring[0] != ring[-1]:
            raise ValueError(
                f"coverage area ring is not closed: it starts at {ring[0]} and "
                f"ends at {ring[-1]}; repeat the first position at the end"
            )
        count += len(ring)
    if count > MAX_COVERAGE_VERTICES:
        raise ValueError(
            f"coverage area has {count} positions; at most {MAX_COVERAGE_VERTICES}"
        )


def _distance_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    p1, p2 = math.radians(lat1), math.radians(lat2)
    h = (
        math.sin((p2 - p1) / 2) ** 2
        + math.cos(p1) * math.cos(p2) * math.sin(math.radians(lon2 - lon1) / 2) ** 2
    )
    return 2 * EARTH_MEAN_RADIUS_M * math.asin(math.sqrt(h))


def _area_km2(area: Polygon | MultiPolygon) -> float:
    """Approximate area, projecting degrees to meters at the area's centroid."""
    centroid = area.centroid
    scale_y = math.radians(1) * EARTH_MEAN_RADIUS_M
    scale_x = scale_y * math.cos(math.radians(centroid.y))
    return area.area * scale_x * scale_y / 1e6


def parse_coverage_area(
    geojson: dict[str, Any], *, base_lat: float, base_lon: float
) -> Polygon | MultiPolygon:
    """Return the GeoJSON Polygon or MultiPolygon as a shape, or raise ValueError.

    The message names the problem: the type, an open ring, a position out of
    range, a self-intersection, the area, or a corner too far from the base.
    """
    kind = geojson.get("type")
    if kind not in ("Polygon", "MultiPolygon"):
        raise ValueError(
            f"coverage area type {kind!r} is not supported: send a GeoJSON "
            "Polygon or MultiPolygon"
        )
    rings = _rings(geojson)
    _check_positions(rings)
    area = shape(geojson)
    assert isinstance(area, Polygon | MultiPolygon)
    if not area.is_valid:
        raise ValueError(
            f"coverage area is not a valid polygon: {explain_validity(area)}"
        )
    km2 = _area_km2(area)
    if km2 > MAX_COVERAGE_AREA_KM2:
        raise ValueError(
            f"coverage area is about {km2:,.0f} km²; at most "
            f"{MAX_COVERAGE_AREA_KM2:,} km²"
        )
    for ring in rings:
        for lon, lat, *_ in ring:
            far = _distance_m(base_lat, base_lon, lat, lon)
            if far > MAX_COVERAGE_RADIUS_M:
                raise ValueError(
                    f"coverage area corner [{lon}, {lat}] is {far / 1000:,.0f} km "
                    f"from the base; at most {MAX_COVERAGE_RADIUS_M // 1000} km"
                )
    return area
