"""Score the candidate agents of a visit, and explain each score.

A score is a weighted sum of six factors, each normalised to [0, 1] where
1 is best: travel time, the visit's urgency, its overdue balance, its days
past due, the agent's reliability and a bonus for new agents. The visit's
own factors are the same for all its candidates, so they do not change the
order within one visit. They decide which visits a batch serves first when
it cannot serve all of them. Scoring works on arrays, so that the batch
solver scores a million edges with the same code that ranks one visit.
"""

import math
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import astuple, dataclass, fields
from datetime import datetime

import numpy as np
from numpy.typing import NDArray
from pydantic import BaseModel

from matching.models import TravelMode
from matching.settings import MatchingSettings

FACTORS = ("travel", "slack", "balance", "days_past_due", "reliability", "new_agent")

FloatArray = NDArray[np.float64]


@dataclass(frozen=True)
class RankWeights:
    """Weight of each factor, in the order of `FACTORS`. A weight of 0 turns it off."""

    travel: float
    slack: float
    balance: float
    days_past_due: float
    reliability: float
    new_agent: float

    def __post_init__(self) -> None:
        if any(not math.isfinite(w) or w < 0 for w in astuple(self)):
            raise ValueError(f"rank weights must be finite and >= 0: {self}")

    def as_array(self) -> FloatArray:
        return np.array(astuple(self), dtype=np.float64)

    @property
    def total(self) -> float:
        """The highest score any candidate can reach."""
        return float(sum(astuple(self)))


@dataclass(frozen=True)
class RankScales:
    """Scale parameters that map each factor's raw value to [0, 1]."""

    speeds_kmh: Mapping[TravelMode, float]
    travel_half_minutes: float
    slack_horizon_hours: float
    balance_cap: float
    days_past_due_cap: int
    reliability_prior_rate: float
    reliability_prior_offers: float
    new_agent_half_life_visits: float


def ranking_from_settings(settings: MatchingSettings) -> tuple[RankWeights, RankScales]:
    """Read the weights and scales from the `MATCHING_RANK_...` settings."""
    weights = RankWeights(
        **{
            f.name: getattr(settings, f"rank_{f.name}_weight")
            for f in fields(RankWeights)
        }
    )
    speeds = {
        mode: getattr(settings, f"rank_{mode.value}_speed_kmh") for mode in TravelMode
    }
    scales = RankScales(
        speeds_kmh=speeds,
        travel_half_minutes=settings.rank_travel_half_minutes,
        slack_horizon_hours=settings.rank_slack_horizon_hours,
        balance_cap=settings.rank_balance_cap,
        days_past_due_cap=settings.rank_days_past_due_cap,
        reliability_prior_rate=settings.rank_reliability_prior_rate,
        reliability_prior_offers=settings.rank_reliability_prior_offers,
        new_agent_half_life_visits=settings.rank_new_agent_half_life_visits,
    )
    return weights, scales


@dataclass(frozen=True)
class VisitToRank:
    """A visit request's fields that ranking reads, without debtor data."""

    visit_id: uuid.UUID
    lat: float
    lon: float
    deadline: datetime
    balance_overdue: float | None = None
    days_past_due: int | None = None


@dataclass(frozen=True)
class AgentProfile:
    """An agent's place, free capacity and track record.

    `assignments_ended` counts the agent's assignments that are over, done
    or given back; `visits_completed` those of them that were done.
    """

    agent_id: uuid.UUID
    lat: float
    lon: float
    travel_mode: TravelMode
    coverage_radius_m: float
    free_capacity: int
    offers_received: int = 0
    offers_accepted: int = 0
    assignments_ended: int = 0
    visits_completed: int = 0


@dataclass(frozen=True)
class Candidate:
    agent: AgentProfile
    distance_m: float


class FactorScore(BaseModel):
    name: str
    raw: float | None
    normalised: float
    weight: float
    contribution: float


class Explanation(BaseModel):
    """Factor-by-factor account of a score. The contributions add up to `score`."""

    visit_id: uuid.UUID
    agent_id: uuid.UUID
    score: float
    factors: list[FactorScore]


@dataclass(frozen=True)
class RankedCandidate:
    candidate: Candidate
    score: float
    explanation: Explanation


def reliability(agents: Sequence[AgentProfile], scales: RankScales) -> FloatArray:
    """Return each agent's acceptance rate times its completion rate.

    Each rate is pulled towards a prior, which counts as
    `reliability_prior_offers` observations at `reliability_prior_rate`, so
    an agent with no record is neither 0 nor 1 and one early decline does
    not sink an agent.
    """
    counts = np.array(
        [
            (
                a.offers_received,
                a.offers_accepted,
                a.assignments_ended,
                a.visits_completed,
            )
            for a in agents
        ],
        dtype=np.float64,
    ).reshape(-1, 4)
    prior_n = scales.reliability_prior_offers
    prior_hits = scales.reliability_prior_rate * prior_n
    acceptance = (counts[:, 1] + prior_hits) / (counts[:, 0] + prior_n)
    completion = (counts[:, 3] + prior_hits) / (counts[:, 2] + prior_n)
    return np.clip(acceptance * completion, 0.0, 1.0)


def raw_factors(
    *,
    distance_m: FloatArray,
    speed_kmh: FloatArray,
    slack_hours: FloatArray,
    balance: FloatArray,
    days_past_due: FloatArray,
    reliability: FloatArray,
    visits_completed: FloatArray,
) -> FloatArray:
    """Stack the raw value of each factor, one row per (visit, agent) pair.

    Travel time is the straight-line distance at the agent's speed. A missing
    balance or days past due is NaN.
    """
    travel_minutes = distance_m / (speed_kmh * 1000.0 / 60.0)
    columns = (
        travel_minutes,
        slack_hours,
        balance,
        days_past_due,
        reliability,
        visits_completed,
    )
    return np.column_stack([np.asarray(c, dtype=np.float64) for c in columns])


def normalise(raw: FloatArray, scales: RankScales) -> FloatArray:
    """Map each raw factor to [0, 1], where 1 is best and a missing value is 0."""
    travel, slack, balance, days, rel, completed = raw.T
    half = scales.travel_half_minutes
    with np.errstate(invalid="ignore"):
        columns = (
            half / (half + np.maximum(travel, 0.0)),
            1.0 - np.clip(slack / scales.slack_horizon_hours, 0.0, 1.0),
            np.log1p(np.clip(balance, 0.0, scales.balance_cap))
            / math.log1p(scales.balance_cap),
            np.clip(days, 0.0, scales.days_past_due_cap) / scales.days_past_due_cap,
            np.clip(rel, 0.0, 1.0),
            0.5 ** (np.maximum(completed, 0.0) / scales.new_agent_half_life_visits),
        )
    return np.nan_to_num(np.column_stack(columns), nan=0.0)


def score_pairs(
    visits: Sequence[VisitToRank],
    agents: Sequence[AgentProfile],
    *,
    visit_index: NDArray[np.intp],
    agent_index: NDArray[np.intp],
    distance_m: FloatArray,
    scales: RankScales,
    now: datetime,
) -> tuple[FloatArray, FloatArray]:
    """Return the raw and the normalised factors of each (visit, agent) pair."""
    slack = np.array([(v.deadline - now).total_seconds() / 3600 for v in visits])
    balance = np.array(
        [np.nan if v.balance_overdue is None else v.balance_overdue for v in visits]
    )
    days = np.array(
        [np.nan if v.days_past_due is None else v.days_past_due for v in visits]
    )
    speed = np.array([scales.speeds_kmh[a.travel_mode] for a in agents])
    completed = np.array([a.visits_completed for a in agents], dtype=np.float64)
    raw = raw_factors(
        distance_m=distance_m,
        speed_kmh=speed[agent_index],
        slack_hours=slack.reshape(-1)[visit_index],
        balance=balance.reshape(-1)[visit_index],
        days_past_due=days.reshape(-1)[visit_index],
        reliability=reliability(agents, scales)[agent_index],
        visits_completed=completed[agent_index],
    )
    return raw, normalise(raw, scales)


def rank(
    visit: VisitToRank,
    candidates: Sequence[Candidate],
    weights: RankWeights,
    now: datetime,
    *,
    scales: RankScales,
) -> list[RankedCandidate]:
    """Order the candidates of one visit, best first, ties by agent id."""
    if not candidates:
        return []
    agents = [c.agent for c in candidates]
    raw, normalised = score_pairs(
        [visit],
        agents,
        visit_index=np.zeros(len(candidates), dtype=np.intp),
        agent_index=np.arange(len(candidates)),
        distance_m=np.array([c.distance_m for c in candidates], dtype=np.float64),
        scales=scales,
        now=now,
    )
    contributions = normalised * weights.as_array()
    ranked = [
        _ranked(visit, c, raw[i], normalised[i], contributions[i], weights)
        for i, c in enumerate(candidates)
    ]
    ranked.sort(key=lambda r: (-r.score, r.candidate.agent.agent_id))
    return ranked


def _ranked(
    visit: VisitToRank,
    candidate: Candidate,
    raw: FloatArray,
    normalised: FloatArray,
    contributions: FloatArray,
    weights: RankWeights,
) -> RankedCandidate:
    factors = [
        FactorScore(
            name=name,
            raw=None if math.isnan(raw[i]) else float(raw[i]),
            normalised=float(normalised[i]),
            weight=float(weight),
            contribution=float(contributions[i]),
        )
        for i, (name, weight) in enumerate(zip(FACTORS, astuple(weights), strict=True))
    ]
    # The score is the sum of the rounded-to-float contributions, so that an
    # explanation adds up exactly to the score it explains.
    score = math.fsum(f.contribution for f in factors)
    explanation = Explanation(
        visit_id=visit.visit_id,
        agent_id=candidate.agent.agent_id,
        score=score,
        factors=factors,
    )
    return RankedCandidate(candidate=candidate, score=score, explanation=explanation)
