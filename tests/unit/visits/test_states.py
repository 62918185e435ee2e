import pytest

from visits.states import FINAL_STATES, VisitState, allowed_sources, can_transition

S = VisitState

LEGAL = [
    (S.REQUESTED, S.ASSIGNED),
    (S.ASSIGNED, S.REQUESTED),
    (S.ASSIGNED, S.CHECKED_IN),
    (S.CHECKED_IN, S.CHECKED_IN),
    (S.CHECKED_IN, S.COMPLETED),
    (S.REQUESTED, S.OUT_OF_COVERAGE),
    (S.REQUESTED, S.EXPIRED),
    (S.ASSIGNED, S.EXPIRED),
    (S.REQUESTED, S.CANCELLED),
    (S.ASSIGNED, S.CANCELLED),
    (S.CHECKED_IN, S.CANCELLED),
    (S.COMPLETED, S.REJECTED),
]


class TestCanTransition:
    @pytest.mark.parametrize(("current", "target"), LEGAL)
    def test_legal_transition_allowed(self, current: S, target: S) -> None:
        assert can_transition(current, target)

    @pytest.mark.parametrize(
        ("current", "target"),
        [
            (current, target)
            for current in S
            for target in S
            if (current, target) not in LEGAL
        ],
    )
    def test_every_other_transition_rejected(self, current: S, target: S) -> None:
        assert not can_transition(current, target)

    @pytest.mark.parametrize("final", sorted(FINAL_STATES))
    def test_final_state_never_left(self, final: S) -> None:
        # Only a director's review moves a final visit: completed to rejected.
        targets = [target for target in S if target != S.REJECTED]
        assert not any(can_transition(final, target) for target in targets)

    def test_result_needs_check_in(self) -> None:
        assert not can_transition(S.ASSIGNED, S.COMPLETED)


class TestAllowedSources:
    def test_check_in_sources_sorted(self) -> None:
        assert allowed_sources(S.CHECKED_IN) == ["assigned", "checked_in"]

    def test_only_released_assignment_back_to_requested(self) -> None:
        # A check-in keeps the visit with its agent, whatever matching does.
        assert allowed_sources(S.REQUESTED) == ["assigned"]


class TestIsFinal:
    def test_final_states(self) -> None:
        assert {state for state in S if state.is_final} == {
            S.COMPLETED,
            S.CANCELLED,
            S.EXPIRED,
            S.OUT_OF_COVERAGE,
            S.REJECTED,
        }
