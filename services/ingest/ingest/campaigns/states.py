"""The campaign state machine: each action, the states it starts from, its target.

The repository applies it as one conditional UPDATE per transition, so two
concurrent actions on one campaign cannot both succeed.
"""

from dataclasses import dataclass
from enum import StrEnum

from shared.events.payloads import WithdrawalReason


class CampaignState(StrEnum):
    DRAFT = "draft"
    LAUNCHED = "launched"
    PAUSED = "paused"
    CANCELLED = "cancelled"
    COMPLETED = "completed"


@dataclass(frozen=True)
class Transition:
    action: str
    sources: frozenset[CampaignState]
    target: CampaignState
    withdraws: WithdrawalReason | None = None


LAUNCH = Transition("launch", frozenset({CampaignState.DRAFT}), CampaignState.LAUNCHED)
PAUSE = Transition(
    "pause",
    frozenset({CampaignState.LAUNCHED}),
    CampaignState.PAUSED,
    WithdrawalReason.CAMPAIGN_PAUSED,
)
RESUME = Transition("resume", frozenset({CampaignState.PAUSED}), CampaignState.LAUNCHED)
CANCEL = Transition(
    "cancel",
    frozenset({CampaignState.DRAFT, CampaignState.LAUNCHED, CampaignState.PAUSED}),
    CampaignState.CANCELLED,
    WithdrawalReason.CAMPAIGN_CANCELLED,
)
COMPLETE = Transition(
    "complete",
    frozenset({CampaignState.LAUNCHED, CampaignState.PAUSED}),
    CampaignState.COMPLETED,
    WithdrawalReason.CAMPAIGN_COMPLETED,
)


def describe_sources(transition: Transition) -> str:
    names = sorted(state.value for state in transition.sources)
    if len(names) == 1:
        return f"a {names[0]} campaign"
    return "a " + " or ".join([", ".join(names[:-1]), names[-1]]) + " campaign"
