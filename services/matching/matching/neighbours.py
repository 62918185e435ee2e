"""Find each visit's k nearest agents whose coverage reaches it.

Points are placed on a sphere in 3-D, where the straight chord between two
points grows with the great-circle distance. A k-d tree over chords thus
finds the true nearest agents anywhere on Earth, and no map projection
distorts a country-wide batch. Distances are great-circle, on a sphere of
the Earth's mean radius, so they differ from PostGIS's spheroid distances
by up to about 0.5%. NOTE: a visit that close to an agent's coverage edge
may be in range here and out of range in the database, or the reverse.
"""

import math
import uuid
from collections.abc import Collection, Mapping, Sequence

import numpy as np
from numpy.typing import NDArray
from scipy.spatial import cKDTree

from matching.ranking import AgentProfile, VisitToRank

EARTH_RADIUS_M = 6_371_008.8


def to_xyz(lat: NDArray[np.float64], lon: NDArray[np.float64]) -> NDArray[np.float64]:
    """Points on the Earth's mean sphere, in meters."""
    phi, lam = np.radians(lat), np.radians(lon)
    return EARTH_RADIUS_M * np.column_stack(
        (np.cos(phi) * np.cos(lam), np.cos(phi) * np.sin(lam), np.sin(phi))
    )


def chord_to_arc(chord_m: NDArray[np.float64]) -> NDArray[np.float64]:
    ratio = np.clip(chord_m / (2 * EARTH_RADIUS_M), 0.0, 1.0)
    return 2 * EARTH_RADIUS_M * np.arcsin(ratio)


def arc_to_chord(arc_m: float) -> float:
    return 2 * EARTH_RADIUS_M * math.sin(min(arc_m / (2 * EARTH_RADIUS_M), math.pi / 2))


def nearest_covering(
    visits: Sequence[VisitToRank],
    agents: Sequence[AgentProfile],
    *,
    k: int,
    excluded: Mapping[uuid.UUID, Collection[uuid.UUID]] | None = None,
) -> tuple[NDArray[np.intp], NDArray[np.intp], NDArray[np.float64]]:
    """Return (visit index, agent index, meters) for each kept pair.

    Only agents with free capacity count, and never an agent listed in
    `excluded` under the visit's id, such as one who declined it. A visit
    keeps up to k agents, nearest first, whose coverage radius contains it.
    When near agents do not cover it, the search widens for that visit until
    it has k or no agent within the largest radius is left.
    """
    if k < 1:
        raise ValueError(f"k must be at least 1, not {k}")
    free = np.array([i for i, a in enumerate(agents) if a.free_capacity > 0], np.intp)
    if not visits or not len(free):
        empty = np.zeros(0, dtype=np.intp)
        return empty, empty.copy(), np.zeros(0)

    radius = np.array([agents[i].coverage_radius_m for i in free], dtype=np.float64)
    tree = cKDTree(to_xyz(*_lat_lon(agents, free)))
    points = to_xyz(*_lat_lon(visits, np.arange(len(visits))))
    bound = arc_to_chord(float(radius.max())) * (1 + 1e-9)

    banned = _pair_keys(visits, agents, excluded or {})
    pending = np.arange(len(visits))
    width = min(len(free), 2 * k)
    parts: list[tuple[NDArray[np.intp], NDArray[np.intp], NDArray[np.float64]]] = []
    while len(pending):
        chord, found = tree.query(points[pending], k=width, distance_upper_bound=bound)
        chord, found = chord.reshape(len(pending), -1), found.reshape(len(pending), -1)
        hit = np.isfinite(chord)
        distance = chord_to_arc(np.where(hit, chord, 0.0))
        agent_index = free[np.where(hit, found, 0)]
        covers = hit & (distance <= radius[np.where(hit, found, 0)])
        if len(banned):
            keys = pending[:, None] * len(agents) + agent_index
            covers &= ~np.isin(keys, banned)
        keep = covers & (np.cumsum(covers, axis=1) <= k)
        # A visit needs a wider search when it has fewer than k and the
        # search ran out of width before it ran out of agents in range.
        short = (keep.sum(axis=1) < k) & hit[:, -1] & (width < len(free))
        done = ~short
        rows, cols = np.nonzero(keep & done[:, None])
        parts.append((pending[rows], agent_index[rows, cols], distance[rows, cols]))
        pending, width = pending[short], min(len(free), width * 2)
    visit_index, agent_index, distance_m = zip(*parts, strict=True)
    return (
        np.concatenate(visit_index),
        np.concatenate(agent_index),
        np.concatenate(distance_m),
    )


def _pair_keys(
    visits: Sequence[VisitToRank],
    agents: Sequence[AgentProfile],
    excluded: Mapping[uuid.UUID, Collection[uuid.UUID]],
) -> NDArray[np.int64]:
    """Number each excluded (visit, agent) pair as visit index * agents + agent."""
    agent_number = {a.agent_id: i for i, a in enumerate(agents)}
    keys = [
        v * len(agents) + agent_number[agent_id]
        for v, target in enumerate(visits)
        for agent_id in excluded.get(target.visit_id, ())
        if agent_id in agent_number
    ]
    return np.array(keys, dtype=np.int64)


def _lat_lon(
    points: Sequence[VisitToRank] | Sequence[AgentProfile], index: NDArray[np.intp]
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    lat = np.array([points[i].lat for i in index], dtype=np.float64)
    lon = np.array([points[i].lon for i in index], dtype=np.float64)
    return lat, lon
