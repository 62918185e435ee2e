import pytest

from matching.coverage import parse_coverage_area

BASE = {"base_lat": 19.43, "base_lon": -99.13}


def _square(lon: float, lat: float, side: float) -> list[list[float]]:
    return [
        [lon, lat],
        [lon + side, lat],
        [lon + side, lat + side],
        [lon, lat + side],
        [lon, lat],
    ]


def test_polygon_around_the_base_is_accepted() -> None:
    area = parse_coverage_area(
        {"type": "Polygon", "coordinates": [_square(-99.2, 19.4, 0.1)]}, **BASE
    )

    assert area.contains_properly(area.centroid)


def test_multipolygon_is_accepted() -> None:
    area = parse_coverage_area(
        {
            "type": "MultiPolygon",
            "coordinates": [[_square(-99.2, 19.4, 0.05)], [_square(-99.0, 19.4, 0.05)]],
        },
        **BASE,
    )

    assert area.geom_type == "MultiPolygon"


@pytest.mark.parametrize(
    ("geojson", "problem"),
    [
        ({"type": "Point", "coordinates": [-99.1, 19.4]}, "'Point' is not supported"),
        ({"type": "Polygon"}, "no coordinates"),
        ({"type": "Polygon", "coordinates": [[[-99.2, 19.4], [-99.1, 19.4]]]}, "fewer"),
        (
            {
                "type": "Polygon",
                "coordinates": [[*_square(-99.2, 19.4, 0.1)[:-1], [-99.2, 19.41]]],
            },
            "not closed",
        ),
        (
            {"type": "Polygon", "coordinates": [_square(19.4, -99.2, 0.1)]},
            "out of range",
        ),
        (
            {
                "type": "Polygon",
                "coordinates": [
                    [[-99.2, 19.4], ["x", 19.4], [-99.1, 19.5], [-99.2, 19.4]]
                ],
            },
            "is not [lon, lat]",
        ),
        (
            {
                "type": "Polygon",
                "coordinates": [
                    [
                        [-99.2, 19.4],
                        [-99.1, 19.5],
                        [-99.1, 19.4],
                        [-99.2, 19.5],
                        [-99.2, 19.4],
                    ]
                ],
            },
            "Self-intersection",
        ),
        ({"type": "Polygon", "coordinates": [_square(-100.0, 18.7, 1.5)]}, "km²"),
        (
            {"type": "Polygon", "coordinates": [_square(-103.4, 20.6, 0.1)]},
            "from the base",
        ),
    ],
)
def test_invalid_areas_name_the_problem(geojson: dict, problem: str) -> None:
    with pytest.raises(
        ValueError, match=problem.replace("[", r"\[").replace("(", r"\(")
    ):
        parse_coverage_area(geojson, **BASE)
