"""Fraud signals of a visit and the score that sums them, as pure functions.

Each signal measures one thing about the visit, compares it with a
threshold from the settings, and adds its weight to the score when it
fires. A signal that has nothing to measure (no photo, no earlier check-in)
has no value and never fires. Times on site and between visits use device
times, because an offline app sends its reports late. A device clock set
wrong shows up in its own signal, the gap between device and server times.
"""

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from visits.settings import VisitsSettings

EARTH_RADIUS_M = 6_371_008.8

DEFAULT_WEIGHTS: dict[str, float] = {
    "distance_from_address": 0.35,
    "gps_accuracy": 0.1,
    "time_on_site": 0.3,
    "travel_speed": 0.35,
    "mock_location": 0.5,
    "reused_photo": 0.5,
    "device_clock_gap": 0.15,
    "photo_time_gap": 0.25,
    "photo_distance": 0.3,
}


@dataclass(frozen=True)
class Fix:
    """One check-in at the door."""

    lat: float
    lon: float
    distance_m: float
    accuracy_m: float
    mock_location: bool
    device_time: datetime
    server_time: datetime


@dataclass(frozen=True)
class PreviousFix:
    """The agent's check-in at another visit just before this one."""

    lat: float
    lon: float
    device_time: datetime


@dataclass(frozen=True)
class PhotoEvidence:
    taken_at: datetime | None
    lat: float | None
    lon: float | None
    other_visits: int
    """How many other visits hold a photo with the same bytes."""


@dataclass(frozen=True)
class Evidence:
    fixes: Sequence[Fix]
    result_device_time: datetime
    result_server_time: datetime
    previous: PreviousFix | None
    photos: Sequence[PhotoEvidence]
    address_radius_m: float | None = None
    """How far the door may lie from a coarse geocode; None for a precise one."""


@dataclass(frozen=True)
class Signal:
    name: str
    value: float | None
    threshold: float
    weight: float
    fires_below: bool = False
    """True when a value under the threshold fires (too short a time)."""
    unit: str = ""

    @property
    def fired(self) -> bool:
        if self.value is None:
            return False
        if self.fires_below:
            return self.value < self.threshold
        return self.value > self.threshold

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "value": None if self.value is None else round(self.value, 3),
            "threshold": self.threshold,
            "weight": self.weight,
            "unit": self.unit,
            "fires_when": "below" if self.fires_below else "above",
            "fired": self.fired,
        }


@dataclass(frozen=True)
class Assessment:
    signals: list[Signal]
    score: float
    flagged: bool


def haversine_m(lat_a: float, lon_a: float, lat_b: float, lon_b: float) -> float:
    phi_a, phi_b = math.radians(lat_a), math.radians(lat_b)
    d_phi = phi_b - phi_a
    d_lambda = math.radians(lon_b - lon_a)
    h = (
        math.sin(d_phi / 2) ** 2
        + math.cos(phi_a) * math.cos(phi_b) * math.sin(d_lambda / 2) ** 2
    )
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(h)))


def weights(settings: VisitsSettings) -> dict[str, float]:
    return DEFAULT_WEIGHTS | settings.signal_weights


def assess(evidence: Evidence, settings: VisitsSettings) -> Assessment:
    """Measure every signal, sum the weights that fired, and flag past the mark."""
    weight = weights(settings)
    closest = min(evidence.fixes, key=lambda fix: fix.distance_m, default=None)
    first = min(evidence.fixes, key=lambda fix: fix.device_time, default=None)
    signals = [
        Signal(
            "distance_from_address",
            closest.distance_m if closest else None,
            distance_threshold_m(evidence, settings),
            weight["distance_from_address"],
            unit="m",
        ),
        Signal(
            "gps_accuracy",
            closest.accuracy_m if closest else None,
            settings.signal_max_accuracy_meters,
            weight["gps_accuracy"],
            unit="m",
        ),
        Signal(
            "time_on_site",
            seconds_on_site(first, evidence.result_device_time),
            settings.signal_min_seconds_on_site,
            weight["time_on_site"],
            fires_below=True,
            unit="s",
        ),
        Signal(
            "travel_speed",
            travel_speed_kmh(evidence.previous, first),
            settings.signal_max_speed_kmh,
            weight["travel_speed"],
            unit="km/h",
        ),
        Signal(
            "mock_location",
            float(sum(fix.mock_location for fix in evidence.fixes)),
            0,
            weight["mock_location"],
            unit="check-ins",
        ),
        Signal(
            "reused_photo",
            float(sum(photo.other_visits > 0 for photo in evidence.photos)),
            0,
            weight["reused_photo"],
            unit="photos",
        ),
        Signal(
            "device_clock_gap",
            clock_gap_seconds(evidence),
            settings.signal_max_clock_gap_seconds,
            weight["device_clock_gap"],
            unit="s",
        ),
        Signal(
            "photo_time_gap",
            photo_time_gap_seconds(evidence.photos, first),
            settings.signal_max_photo_time_gap_seconds,
            weight["photo_time_gap"],
            unit="s",
        ),
        Signal(
            "photo_distance",
            photo_distance_m(evidence.photos, closest),
            settings.signal_max_photo_distance_meters,
            weight["photo_distance"],
            unit="m",
        ),
    ]
    score = min(1.0, sum(signal.weight for signal in signals if signal.fired))
    score = round(score, 3)
    return Assessment(
        signals=signals, score=score, flagged=score >= settings.flag_score
    )


def distance_threshold_m(evidence: Evidence, settings: VisitsSettings) -> float:
    """Widen the distance limit to a coarse geocode's radius.

    Far from a postal code's or a town's centre is where an honest agent at
    the real door stands, so only a fix outside the geocode's own radius
    counts against the visit. The other signals (mocked fixes, accuracy,
    travel speed, photos) still judge it as any other.
    """
    return max(settings.signal_max_distance_meters, evidence.address_radius_m or 0.0)


def seconds_on_site(first: Fix | None, result_device_time: datetime) -> float | None:
    if first is None:
        return None
    return (result_device_time - first.device_time).total_seconds()


def travel_speed_kmh(previous: PreviousFix | None, first: Fix | None) -> float | None:
    """Speed from the agent's previous visit to this one; one second at least."""
    if previous is None or first is None:
        return None
    metres = haversine_m(previous.lat, previous.lon, first.lat, first.lon)
    seconds = max(1.0, (first.device_time - previous.device_time).total_seconds())
    return metres / seconds * 3.6


def clock_gap_seconds(evidence: Evidence) -> float | None:
    pairs = [(fix.device_time, fix.server_time) for fix in evidence.fixes]
    pairs.append((evidence.result_device_time, evidence.result_server_time))
    return max(abs((server - device).total_seconds()) for device, server in pairs)


def photo_time_gap_seconds(
    photos: Sequence[PhotoEvidence], first: Fix | None
) -> float | None:
    if first is None:
        return None
    gaps = [
        abs((photo.taken_at - first.device_time).total_seconds())
        for photo in photos
        if photo.taken_at is not None
    ]
    return max(gaps, default=None)


def photo_distance_m(
    photos: Sequence[PhotoEvidence], closest: Fix | None
) -> float | None:
    if closest is None:
        return None
    distances = [
        haversine_m(photo.lat, photo.lon, closest.lat, closest.lon)
        for photo in photos
        if photo.lat is not None and photo.lon is not None
    ]
    return max(distances, default=None)
