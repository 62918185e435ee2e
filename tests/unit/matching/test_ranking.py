import dataclasses
import math
from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from matching.models import TravelMode
from matching.ranking import (
    FACTORS,
    AgentProfile,
    Candidate,
    RankWeights,
    VisitToRank,
    rank,
    ranking_from_settings,
    reliability,
)
from matching.settings import MatchingSettings
from tests.fixtures.matching import NOW, agent, ranking, visit

WEIGHTS, SCALES = ranking()

distances = st.floats(min_value=0, max_value=200_000)
counts = st.integers(min_value=0, max_value=500)
weight_values = st.floats(min_value=0, max_value=10)


@st.composite
def agents(draw: st.DrawFn, number: int = 0) -> AgentProfile:
    offers = draw(counts)
    ended = draw(counts)
    return agent(
        number,
        travel_mode=draw(st.sampled_from(TravelMode)),
        offers_received=offers,
        offers_accepted=draw(st.integers(0, offers)),
        assignments_ended=ended,
        visits_completed=draw(st.integers(0, ended)),
    )


@st.composite
def visits(draw: st.DrawFn) -> VisitToRank:
    return visit(
        deadline=NOW + timedelta(hours=draw(st.floats(-10, 500))),
        balance_overdue=draw(st.none() | st.floats(0, 1e7)),
        days_past_due=draw(st.none() | st.integers(0, 3000)),
    )


def _score(
    candidate: Candidate,
    weights: RankWeights = WEIGHTS,
    *,
    target: VisitToRank | None = None,
) -> float:
    ranked = rank(target or visit(), [candidate], weights, NOW, scales=SCALES)
    return ranked[0].score


class TestRank:
    def test_orders_best_first(self) -> None:
        near = Candidate(agent(1), distance_m=500)
        far = Candidate(agent(2), distance_m=6_000)

        ranked = rank(visit(), [far, near], WEIGHTS, NOW, scales=SCALES)

        assert [r.candidate for r in ranked] == [near, far]

    def test_breaks_ties_by_agent_id(self) -> None:
        candidates = [Candidate(agent(n), distance_m=1_000) for n in (3, 1, 2)]

        ranked = rank(visit(), candidates, WEIGHTS, NOW, scales=SCALES)

        assert [r.candidate.agent.agent_id for r in ranked] == sorted(
            c.agent.agent_id for c in candidates
        )

    def test_no_candidates(self) -> None:
        assert rank(visit(), [], WEIGHTS, NOW, scales=SCALES) == []

    def test_faster_mode_ranks_first_at_equal_distance(self) -> None:
        walker = Candidate(agent(1, travel_mode=TravelMode.WALK), 3_000)
        rider = Candidate(agent(2, travel_mode=TravelMode.MOTORCYCLE), 3_000)

        ranked = rank(visit(), [walker, rider], WEIGHTS, NOW, scales=SCALES)

        assert ranked[0].candidate is rider

    def test_explanation_serialises_each_factor(self) -> None:
        ranked = rank(visit(), [Candidate(agent(), 2_500)], WEIGHTS, NOW, scales=SCALES)

        document = ranked[0].explanation.model_dump(mode="json")

        assert [f["name"] for f in document["factors"]] == list(FACTORS)
        travel = document["factors"][0]
        assert travel["raw"] == pytest.approx(6.0)  # 2.5 km at 25 km/h
        assert travel["weight"] == WEIGHTS.travel

    def test_missing_priority_scores_zero(self) -> None:
        target = visit(balance_overdue=None, days_past_due=None)

        ranked = rank(target, [Candidate(agent(), 0)], WEIGHTS, NOW, scales=SCALES)

        by_name = {f.name: f for f in ranked[0].explanation.factors}
        assert by_name["balance"].raw is None
        assert by_name["balance"].contribution == 0
        assert by_name["days_past_due"].normalised == 0

    def test_more_urgent_visit_scores_higher(self) -> None:
        candidate = Candidate(agent(), 1_000)
        soon = visit(deadline=NOW + timedelta(hours=4))
        later = visit(deadline=NOW + timedelta(hours=60))

        assert _score(candidate, target=soon) > _score(candidate, target=later)


class TestReliability:
    def test_new_agent_is_neither_zero_nor_one(self) -> None:
        (value,) = reliability([agent()], SCALES)

        assert 0 < value < 1

    def test_one_decline_does_not_sink_an_agent(self) -> None:
        (value,) = reliability([agent(offers_received=1)], SCALES)

        assert value > 0.4

    def test_long_record_outweighs_the_prior(self) -> None:
        steady = agent(
            offers_received=200,
            offers_accepted=200,
            assignments_ended=200,
            visits_completed=200,
        )

        (value,) = reliability([steady], SCALES)

        assert value > 0.95


class TestRankingFromSettings:
    def test_reads_weights_and_speeds_from_the_environment(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setenv("MATCHING_RANK_TRAVEL_WEIGHT", "7.5")
        monkeypatch.setenv("MATCHING_RANK_NEW_AGENT_WEIGHT", "0")
        monkeypatch.setenv("MATCHING_RANK_BICYCLE_SPEED_KMH", "15")

        weights, scales = ranking_from_settings(MatchingSettings())

        assert weights.travel == 7.5
        assert weights.new_agent == 0
        assert scales.speeds_kmh[TravelMode.BICYCLE] == 15
        assert set(scales.speeds_kmh) == set(TravelMode)

    def test_rejects_a_negative_weight(self) -> None:
        with pytest.raises(ValueError, match="finite and >= 0"):
            RankWeights(-1, 0, 0, 0, 0, 0)


class TestRankProperties:
    @given(agents(), distances, distances, visits())
    def test_closer_is_never_worse(
        self, profile: AgentProfile, near: float, far: float, target: VisitToRank
    ) -> None:
        near, far = min(near, far), max(near, far)

        near_score = _score(Candidate(profile, near), target=target)
        far_score = _score(Candidate(profile, far), target=target)

        assert near_score >= far_score

    @given(agents(), distances, visits(), st.sampled_from(FACTORS))
    def test_zero_weight_removes_a_factor(
        self, profile: AgentProfile, distance: float, target: VisitToRank, factor: str
    ) -> None:
        weights = dataclasses.replace(WEIGHTS, **{factor: 0.0})
        candidate = Candidate(profile, distance)

        (full,) = rank(target, [candidate], WEIGHTS, NOW, scales=SCALES)
        (without,) = rank(target, [candidate], weights, NOW, scales=SCALES)

        others = [f for f in full.explanation.factors if f.name != factor]
        assert without.score == pytest.approx(math.fsum(f.contribution for f in others))
        assert without.explanation.factors[FACTORS.index(factor)].contribution == 0

    @given(agents(), distances, visits(), st.sampled_from(FACTORS[:-1]))
    def test_zero_weight_ignores_the_factor_input(
        self, profile: AgentProfile, distance: float, target: VisitToRank, factor: str
    ) -> None:
        weights = dataclasses.replace(WEIGHTS, **{factor: 0.0})
        candidate = Candidate(profile, distance)
        moved_candidate, moved_target = _changed_in(factor, candidate, target)

        before = _score(candidate, weights, target=target)
        after = _score(moved_candidate, weights, target=moved_target)

        assert math.isclose(before, after, rel_tol=1e-12, abs_tol=1e-12)

    @given(
        st.lists(agents(), min_size=1, max_size=6),
        st.lists(distances, min_size=6, max_size=6),
        visits(),
        st.builds(RankWeights, *[weight_values] * len(FACTORS)),
    )
    def test_contributions_sum_to_the_score(
        self,
        profiles: list[AgentProfile],
        spread: list[float],
        target: VisitToRank,
        weights: RankWeights,
    ) -> None:
        candidates = [
            Candidate(dataclasses.replace(p, agent_id=agent(n).agent_id), spread[n])
            for n, p in enumerate(profiles)
        ]

        ranked = rank(target, candidates, weights, NOW, scales=SCALES)

        for r in ranked:
            explanation = r.explanation
            assert math.fsum(f.contribution for f in explanation.factors) == r.score
            assert explanation.score == r.score
            assert all(0 <= f.normalised <= 1 for f in explanation.factors)
            assert 0 <= r.score <= weights.total + 1e-9
        keys = [(-r.score, r.candidate.agent.agent_id) for r in ranked]
        assert keys == sorted(keys)

    @given(st.integers(0, 1000), st.integers(0, 1000))
    def test_new_agent_bonus_fades_with_completed_visits(
        self, fewer: int, more: int
    ) -> None:
        fewer, more = min(fewer, more), max(fewer, more)
        only_bonus = RankWeights(0, 0, 0, 0, 0, 1)

        novice = _score(
            Candidate(agent(visits_completed=fewer, assignments_ended=fewer), 0),
            only_bonus,
        )
        veteran = _score(
            Candidate(agent(visits_completed=more, assignments_ended=more), 0),
            only_bonus,
        )

        assert novice >= veteran


def _changed_in(
    factor: str, candidate: Candidate, target: VisitToRank
) -> tuple[Candidate, VisitToRank]:
    """The same pair with only `factor`'s input moved.

    The new-agent bonus has no input of its own: completed visits also move
    reliability.
    """
    profile = candidate.agent
    if factor == "travel":
        return dataclasses.replace(
            candidate, distance_m=candidate.distance_m + 5e3
        ), target
    if factor == "slack":
        later = target.deadline + timedelta(hours=17)
        return candidate, dataclasses.replace(target, deadline=later)
    if factor == "balance":
        return candidate, dataclasses.replace(target, balance_overdue=777.0)
    if factor == "days_past_due":
        return candidate, dataclasses.replace(target, days_past_due=3)
    if factor == "reliability":
        moved = dataclasses.replace(
            profile, offers_received=profile.offers_received + 9
        )
        return dataclasses.replace(candidate, agent=moved), target
    raise ValueError(factor)
