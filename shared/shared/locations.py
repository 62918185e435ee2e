"""How far an account's stored point may lie from its door, by precision.

Ingest places accounts with a precision (`rooftop` down to `state`), and a
verified check-in can later place one at the door itself (`visit`, with the
fix's accuracy). Visits widens its geofence to the radius of a coarse
geocode, since an honest agent at the real house is far from a postal
code's or a town's centre; ingest keeps whichever point has the smaller
radius.
"""

from shared.events.payloads import LocationPrecision

# Rough radius, in metres, within which the door lies for each precision.
# A locality covers a colonia or a whole municipality in the gazetteer, so
# its radius is that of a large municipality, not of a neighbourhood.
PRECISION_RADIUS_METERS: dict[LocationPrecision, float] = {
    LocationPrecision.ROOFTOP: 30.0,
    LocationPrecision.STREET: 500.0,
    LocationPrecision.POSTAL_CODE: 2_500.0,
    LocationPrecision.LOCALITY: 10_000.0,
    LocationPrecision.STATE: 200_000.0,
}


def uncertainty_radius_meters(
    precision: LocationPrecision | None, accuracy_m: float | None = None
) -> float | None:
    """Return the radius around the stored point where the door may be.

    A point observed at a visit is as good as its fix's accuracy. None means
    the precision is unknown (a request from before precisions travelled).
    """
    if precision is None:
        return None
    if precision is LocationPrecision.VISIT:
        return accuracy_m
    return PRECISION_RADIUS_METERS[precision]


def is_improvable(
    precision: LocationPrecision | None,
    *,
    accuracy_m: float | None,
    observed_accuracy_m: float,
) -> bool:
    """Return whether a fix of `observed_accuracy_m` would place the door better.

    A rooftop point is never replaced: a fix at the door is no closer to it,
    and a creditor's own coordinates come as rooftop. An unknown precision
    is left alone too, since nothing shows the fix is better.
    """
    if precision is None or precision is LocationPrecision.ROOFTOP:
        return False
    radius = uncertainty_radius_meters(precision, accuracy_m)
    return radius is None or observed_accuracy_m < radius
