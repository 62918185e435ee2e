from pydantic import Field
from pydantic_settings import SettingsConfigDict

from shared.settings import ServiceSettings


class VisitsSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="VISITS_", extra="ignore")

    geofence_radius_meters: float = Field(
        default=150,
        gt=0,
        description="Largest distance from the address for a verified check-in.",
    )
    max_accuracy_meters: float = Field(
        default=100,
        gt=0,
        description="Largest GPS accuracy radius for a verified check-in.",
    )
    clock_skew_seconds: float = Field(
        default=120,
        ge=0,
        description="How far ahead of the server clock a device_time may be.",
    )
    late_sync_limit_hours: float = Field(
        default=72,
        gt=0,
        description="How old a device_time may be when an offline report syncs.",
    )
    max_promise_days: int = Field(
        default=365,
        ge=1,
        le=3650,
        description="Days after the device date by which a promise must fall due.",
    )
    answers_timeout_seconds: float = Field(
        default=2,
        gt=0,
        description="Seconds that validating answers against the form may take.",
    )
    visiting_hours: bool = Field(
        default=True,
        description=(
            "Refuse a check-in outside the visiting hours of the address's time "
            "zone. Off only for tests and demos that must run at any hour."
        ),
    )
