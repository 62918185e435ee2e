"""The order in which dispatch tries a visit's candidates.

Dispatch calls only `order_candidates`. The candidates are the covering
agents nearest the visit, up to `max_candidates`; the ranking then weighs
travel time by each agent's mode and the agent's record, so a motorcyclist
a little farther may come before a walker, and an agent who lets offers
lapse comes after one who answers them. Each candidate comes with the
ranking that dispatch stores on the offer it makes, so that the tenant can
later see why that agent was chosen.
"""

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from pydantic import BaseModel, Field
from sqlalchemy import Row
from sqlalchemy.ext.asyncio import AsyncSession

from matching import repository
from matching.models import TravelMode
from matching.ranking import (
    AgentProfile,
    Candidate,
    FactorScore,
    RankedCandidate,
    VisitToRank,
    rank,
    ranking_from_settings,
)
from matching.route import Place, day_detour_m
from matching.settings import MatchingSettings


class BatchRanking(BaseModel):
    """The batch in which an offer's visit was placed with others."""

    size: int = Field(description="Visits placed together in the batch.")
    solver: str = Field(
        description=(
            "`min_cost_flow`, or `greedy` when the solver failed or missed "
            "its time limit."
        )
    )
    fallback: str | None = Field(
        default=None,
        description="Why the greedy pass placed the batch: `time_limit` or "
        "`solver_failed`.",
    )


class OfferRanking(BaseModel):
    """Why an agent got an offer: the score, its factors and the place it won."""

    score: float = Field(description="The sum of the factors' contributions.")
    rank: int = Field(description="1 for the best of the candidates considered.")
    candidates_considered: int = Field(
        description="Candidates ranked, less those dropped by visiting hours."
    )
    dropped_by_hours: int = Field(
        default=0,
        description=(
            "Better-placed candidates left out because they could not arrive "
            "at a legal hour; they have no rank."
        ),
    )
    factors: list[FactorScore]
    weights: dict[str, float] = Field(
        description="The weight of each factor when the offer was made."
    )
    batch: BatchRanking | None = Field(
        default=None,
        description=(
            "The batch that placed the visit, or null when it was placed alone. "
            "In a batch the visit may go to a lower-ranked candidate, so that "
            "another visit keeps the only agent near it."
        ),
    )


@dataclass(frozen=True)
class OrderedCandidate:
    row: Row[Any]
    ranking: OfferRanking

    @property
    def travel(self) -> timedelta:
        """Travel time to the visit at the speed of the agent's mode."""
        minutes = next(f.raw for f in self.ranking.factors if f.name == "travel")
        return timedelta(minutes=minutes or 0.0)


def order_candidates(
    request: Row[Any],
    candidates: Sequence[Row[Any]],
    *,
    now: datetime,
    settings: MatchingSettings,
    travel_m: Mapping[uuid.UUID, float] | None = None,
) -> list[OrderedCandidate]:
    """Return the candidates best first, ties by agent id, each with its ranking.

    `request` is the locked visit request and each candidate is a row of
    `repository.find_candidates`; `now` is the dispatch time. `travel_m`
    gives the meters an agent's travel is scored on, when they differ from
    its `distance_m` (`day_detours`).
    """
    by_agent = {candidate.agent_id: candidate for candidate in candidates}
    ranked = rank_candidates(
        request, candidates, now=now, settings=settings, travel_m=travel_m
    )
    return [
        OrderedCandidate(
            row=by_agent[r.candidate.agent.agent_id],
            ranking=OfferRanking(
                score=r.score,
                rank=position,
                candidates_considered=len(ranked),
                factors=r.explanation.factors,
                weights={f.name: f.weight for f in r.explanation.factors},
            ),
        )
        for position, r in enumerate(ranked, start=1)
    ]


def renumber(
    candidates: Sequence[OrderedCandidate], *, dropped_by_hours: int
) -> list[OrderedCandidate]:
    """Rank the candidates left after a filter 1, 2, ... in their order.

    Each ranking then records how many candidates the visiting hours dropped,
    and rank 1 is the first agent who could take the visit.
    """
    return [
        OrderedCandidate(
            row=candidate.row,
            ranking=candidate.ranking.model_copy(
                update={
                    "rank": position,
                    "candidates_considered": len(candidates),
                    "dropped_by_hours": dropped_by_hours,
                }
            ),
        )
        for position, candidate in enumerate(candidates, start=1)
    ]


def rank_candidates(
    request: Row[Any],
    candidates: Sequence[Row[Any]],
    *,
    now: datetime,
    settings: MatchingSettings,
    travel_m: Mapping[uuid.UUID, float] | None = None,
) -> list[RankedCandidate]:
    """Rank the candidates, each with the explanation of its score."""
    travel_m = travel_m or {}
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
                distance_m=travel_m.get(row.agent_id, float(row.distance_m)),
            )
            for row in candidates
        ],
        weights,
        now,
        scales=scales,
    )


async def day_detours(
    session: AsyncSession, request: Row[Any], candidates: Sequence[Row[Any]]
) -> dict[uuid.UUID, float]:
    """Return the meters the visit adds to the day of each candidate with visits.

    An agent with visits not yet started will make them anyway, so a visit
    on its way costs it less than the distance from its position, and one
    off its way costs more. Agents with no such visit are left out,
    and their travel is their `distance_m`.
    """
    stops = await repository.unstarted_stops(
        session, [candidate.agent_id for candidate in candidates]
    )
    visit = Place(request.lat, request.lon)
    return {
        candidate.agent_id: day_detour_m(
            Place(candidate.lat, candidate.lon),
            [Place(stop.lat, stop.lon) for stop in stops[candidate.agent_id]],
            visit,
        )
        for candidate in candidates
        if stops.get(candidate.agent_id)
    }
