"""The visit state machine: which states a transition may start from.

The database applies these rules: every transition is one conditional
UPDATE whose WHERE clause lists the allowed current states.
"""

from enum import StrEnum


class VisitState(StrEnum):
    REQUESTED = "requested"
    ASSIGNED = "assigned"
    CHECKED_IN = "checked_in"
    COMPLETED = "completed"
    CANCELLED = "cancelled"
    EXPIRED = "expired"
    OUT_OF_COVERAGE = "out_of_coverage"
    REJECTED = "rejected"

    @property
    def is_final(self) -> bool:
        return self in FINAL_STATES


FINAL_STATES = frozenset(
    {
        VisitState.COMPLETED,
        VisitState.CANCELLED,
        VisitState.EXPIRED,
        VisitState.OUT_OF_COVERAGE,
        VisitState.REJECTED,
    }
)

OPEN_AGENT_STATES = (VisitState.ASSIGNED, VisitState.CHECKED_IN)

# Target state -> states the transition may start from. A check-in while
# checked in is allowed: the fix is recorded and the state stays the same.
ALLOWED_SOURCES: dict[VisitState, frozenset[VisitState]] = {
    # Back to waiting for an agent when matching releases the assignment
    # before the check-in.
    VisitState.REQUESTED: frozenset({VisitState.ASSIGNED}),
    VisitState.ASSIGNED: frozenset({VisitState.REQUESTED}),
    VisitState.CHECKED_IN: frozenset({VisitState.ASSIGNED, VisitState.CHECKED_IN}),
    VisitState.COMPLETED: frozenset({VisitState.CHECKED_IN}),
    VisitState.OUT_OF_COVERAGE: frozenset({VisitState.REQUESTED}),
    VisitState.EXPIRED: frozenset({VisitState.REQUESTED, VisitState.ASSIGNED}),
    VisitState.CANCELLED: frozenset(
        {VisitState.REQUESTED, VisitState.ASSIGNED, VisitState.CHECKED_IN}
    ),
    # An overturned appeal moves rejected back to completed with its own
    # UPDATE; listing it under COMPLETED would let a result complete it.
    VisitState.REJECTED: frozenset({VisitState.COMPLETED}),
}


def allowed_sources(target: VisitState) -> list[str]:
    """Return the states a transition to `target` may start from, sorted."""
    return sorted(ALLOWED_SOURCES.get(target, frozenset()))


def can_transition(current: VisitState, target: VisitState) -> bool:
    return current in ALLOWED_SOURCES.get(target, frozenset())
