from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from pydantic import Field, field_validator
from pydantic_settings import SettingsConfigDict

from shared.settings import ServiceSettings

if TYPE_CHECKING:
    from shared.runtime import ServiceRuntime


class MatchingSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="MATCHING_", extra="ignore")

    pending_retry_seconds: float = Field(
        default=30.0,
        gt=0,
        description=(
            "Interval between two passes over pending visit requests, which wait "
            "for an agent with free capacity or for their deadline."
        ),
    )
    pending_batch_size: int = Field(
        default=200,
        ge=1,
        description="Pending visit requests read per query during a retry pass.",
    )
    max_candidates: int = Field(
        default=20,
        ge=1,
        description=(
            "Maximum number of covering agents with free capacity tried, nearest "
            "first, for one visit request."
        ),
    )
    offer_expiry_interval_seconds: float = Field(
        default=5.0,
        gt=0,
        description=(
            "Interval between two passes that expire offers past their time, "
            "offer their visits to the next candidates, and end the visits "
            "whose wait is over."
        ),
    )
    offer_expiry_batch_size: int = Field(
        default=200,
        ge=1,
        description="Visit requests handled per expiry pass, oldest deadline first.",
    )
    rank_travel_weight: float = Field(
        default=4.0, ge=0, description="Weight of the travel time to the visit."
    )
    rank_slack_weight: float = Field(
        default=1.0,
        ge=0,
        description="Weight of the visit's urgency: the less time to its deadline.",
    )
    rank_balance_weight: float = Field(
        default=1.0, ge=0, description="Weight of the account's overdue balance."
    )
    rank_days_past_due_weight: float = Field(
        default=1.0, ge=0, description="Weight of the account's days past due."
    )
    rank_reliability_weight: float = Field(
        default=2.0,
        ge=0,
        description="Weight of the agent's acceptance rate times completion rate.",
    )
    rank_new_agent_weight: float = Field(
        default=1.0,
        ge=0,
        description="Weight of the bonus a new agent gets until it has a record.",
    )
    batch_interval_seconds: float = Field(
        default=30.0,
        ge=0,
        description=(
            "Interval between two batch passes, which place the pending visits "
            "of offer and assign mode together. 0 turns batching off: each "
            "visit is then dispatched alone, on arrival."
        ),
    )
    batch_max_visits: int = Field(
        default=500,
        ge=1,
        description=(
            "Maximum number of pending visits solved together, earliest "
            "deadline first. A pass with more pending visits solves them in "
            "several batches of at most this size."
        ),
    )
    batch_time_limit_seconds: float = Field(
        default=5.0,
        gt=0,
        description=(
            "Wall-clock limit of one min-cost flow solve. A batch that misses "
            "it is placed by the greedy pass over the same candidates."
        ),
    )
    visiting_hours: bool = Field(
        default=True,
        description=(
            "Make an offer only when the agent could arrive within the legal "
            "visiting hours of the address's time zone. Off only for tests "
            "and demos that must run at any hour."
        ),
    )
    max_travel_minutes: float = Field(
        default=90.0,
        gt=0,
        description=(
            "Longest travel to a visit, at the speed of the agent's mode over "
            "the straight line, for an agent to be a candidate. A campaign can "
            "set a shorter one."
        ),
    )
    location_fresh_minutes: float = Field(
        default=30.0,
        ge=0,
        description=(
            "An agent's last known location this recent replaces the base for "
            "distance, travel time and ranking. 0 always uses the base."
        ),
    )
    location_max_accuracy_m: float = Field(
        default=500.0,
        gt=0,
        description="A last known location less accurate than this is not used.",
    )
    check_in_within_hours: float = Field(
        default=48.0,
        gt=0,
        description=(
            "Hours after the assignment by which the agent must check in, or "
            "the visit goes to another agent; the visit's deadline when that "
            "comes first."
        ),
    )
    check_in_lapse_interval_seconds: float = Field(
        default=60.0,
        gt=0,
        description=(
            "Interval between two passes that release the assignments whose "
            "check-in deadline passed without a check-in."
        ),
    )
    check_in_lapse_batch_size: int = Field(
        default=200,
        ge=1,
        description="Assignments released per pass, the earliest deadline first.",
    )
    rank_walk_speed_kmh: float = Field(default=4.5, gt=0)
    rank_bicycle_speed_kmh: float = Field(default=12.0, gt=0)
    rank_motorcycle_speed_kmh: float = Field(default=25.0, gt=0)
    rank_car_speed_kmh: float = Field(default=20.0, gt=0)
    rank_travel_half_minutes: float = Field(
        default=20.0,
        gt=0,
        description="Travel time at which the travel factor falls to one half.",
    )
    rank_slack_horizon_hours: float = Field(
        default=72.0,
        gt=0,
        description="Time to the deadline beyond which a visit is not urgent at all.",
    )
    rank_balance_cap: float = Field(
        default=100_000.0,
        gt=0,
        description="Overdue balance, in the account's currency, that scores 1.",
    )
    rank_days_past_due_cap: int = Field(
        default=180, ge=1, description="Days past due that score 1."
    )
    rank_reliability_prior_rate: float = Field(
        default=0.8,
        gt=0,
        lt=1,
        description="Acceptance and completion rate assumed before any record.",
    )
    rank_reliability_prior_offers: float = Field(
        default=5.0,
        gt=0,
        description="How many offers or visits the assumed rate counts for.",
    )
    rank_new_agent_half_life_visits: float = Field(
        default=10.0,
        gt=0,
        description="Completed visits after which the new-agent bonus is halved.",
    )
    route_service_minutes: float = Field(
        default=20.0,
        gt=0,
        description="Time a visit takes at the door, for the day route's estimates.",
    )
    route_detour_factor: float = Field(
        default=1.3,
        ge=1,
        description=(
            "Street distance over straight-line distance, for the day route's "
            "legs and arrival estimates."
        ),
    )
    route_return_to_base: bool = Field(
        default=True,
        description="End the day route back at the agent's base.",
    )
    route_time_limit_seconds: float = Field(
        default=2.0,
        gt=0,
        description="Longest the route solver may search for one agent's day.",
    )
    route_max_stops: int = Field(
        default=40,
        ge=1,
        description=(
            "Most visits the day route plans, earliest deadline first; the "
            "rest are listed as not fitting the day."
        ),
    )
    default_agent_time_zone: str = Field(
        default="America/Mexico_City",
        description=(
            "Time zone of an agent with no schedule, whose local day counts "
            "its capacity and plans its route."
        ),
    )

    @field_validator("default_agent_time_zone")
    @classmethod
    def _known_zone(cls, name: str) -> str:
        try:
            ZoneInfo(name)
        except (KeyError, ValueError) as error:
            raise ValueError(
                f"MATCHING_DEFAULT_AGENT_TIME_ZONE {name!r} is no IANA time zone; "
                "use a name such as America/Mexico_City"
            ) from error
        return name


def matching_settings(runtime: "ServiceRuntime") -> MatchingSettings:
    """Return the runtime's settings, which matching builds as MatchingSettings."""
    settings = runtime.settings
    if not isinstance(settings, MatchingSettings):
        raise TypeError("the matching runtime must be built with MatchingSettings")
    return settings
