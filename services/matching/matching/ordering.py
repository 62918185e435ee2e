"""The order in which dispatch tries a visit's candidates.

Dispatch calls only `order_candidates`. The candidates are the covering
agents nearest the visit, up to `max_candidates`; the ranking then weighs
travel time by each agent's mode and the agent's record, so a motorcyclist
a little farther may come before a walker, and an agent who lets offers
lapse comes after one who answers them.
"""

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Row

from matching.models import TravelMode
from matching.ranking import (
    AgentProfile,
    Candidate,
    RankedCandidate,
    VisitToRank,
    rank,
    ranking_from_settings,
)
from matching.settings import MatchingSettings


def order_candidates(
    request: Row[Any],
    candidates: Sequence[Row[Any]],
    *,
    now: datetime,
    settings: MatchingSettings,
) -> list[Row[Any]]:
    """Return the candidates best first, ties by agent id.

    `request` is the locked visit request and each candidate is a row of
    `repository.find_candidates`; `now` is the dispatch time.
    """
    by_agent = {candidate.agent_id: candidate for candidate in candidates}
    return [
        by_agent[ranked.candidate.agent.agent_id]
        for ranked in rank_candidates(request, candidates, now=now, settings=settings)
    ]


def rank_candidates(
    request: Row[Any],
    candidates: Sequence[Row[Any]],
    *,
    now: datetime,
    settings: MatchingSettings,
) -> list[RankedCandidate]:
    """Rank the candidates, each with the explanation of its score."""
    weights, scales = ranking_from_settings(settings)
    visit = VisitToRank(
        visit_id=request.visit_id,
        lat=request.lat,
        lon=request.lon,
        deadline=request.deadline,
    )
    return rank(
        visit,
        [
            Candidate(
                agent=AgentProfile(
                    agent_id=row.agent_id,
                    lat=row.lat,
                    lon=row.lon,
                    travel_mode=TravelMode(row.travel_mode),
                    coverage_radius_m=row.coverage_radius_m,
                    free_capacity=row.free_capacity,
                    offers_received=row.offers_received,
                    offers_accepted=row.offers_accepted,
                    assignments_ended=row.assignments_ended,
                    visits_completed=row.visits_completed,
                ),
                distance_m=float(row.distance_m),
            )
            for row in candidates
        ],
        weights,
        now,
        scales=scales,
    )
