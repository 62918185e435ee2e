from pydantic import Field
from pydantic_settings import SettingsConfigDict

from shared.settings import ServiceSettings


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
