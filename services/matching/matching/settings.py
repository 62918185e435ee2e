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
