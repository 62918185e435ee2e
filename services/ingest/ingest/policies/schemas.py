from pydantic import ConfigDict, Field

from shared.schemas import RequestModel

DEFAULT_REVISIT_DELAY_SECONDS = 24 * 3600
DEFAULT_MAX_ATTEMPTS = 3
DEFAULT_MAX_VISITS_PER_WEEK = 2


class VisitPolicyIn(RequestModel):
    revisit_delay_seconds: int = Field(
        default=DEFAULT_REVISIT_DELAY_SECONDS,
        ge=1,
        le=30 * 24 * 3600,
        description="Delay after a visit that met nobody before the next attempt.",
    )
    max_attempts: int = Field(
        default=DEFAULT_MAX_ATTEMPTS,
        ge=1,
        le=20,
        description="Maximum completed visits to one account within one campaign.",
    )
    max_visits_per_week: int = Field(
        default=DEFAULT_MAX_VISITS_PER_WEEK,
        ge=1,
        le=14,
        description=(
            "Maximum visits requested for one account in any 7 days, across campaigns."
        ),
    )


class VisitPolicyOut(VisitPolicyIn):
    model_config = ConfigDict(extra="ignore")
