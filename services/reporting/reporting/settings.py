from typing import Annotated
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, field_validator, model_validator
from pydantic_settings import NoDecode, SettingsConfigDict

from shared.settings import ServiceSettings

DEFAULT_RETRY_SCHEDULE_SECONDS = (
    5.0,
    300.0,
    1800.0,
    7200.0,
    18000.0,
    36000.0,
    36000.0,
    36000.0,
    36000.0,
    36000.0,
)


class ReportingSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="REPORTING_", extra="ignore")

    stream_poll_seconds: float = Field(
        default=1.0,
        gt=0,
        description="Maximum wait of the live stream between two reads when no "
        "consumer commit wakes it.",
    )
    stream_listening_poll_seconds: float = Field(
        default=15.0,
        gt=0,
        description="Maximum wait of the live stream between two reads while the "
        "LISTEN connection wakes it on every commit; stream_poll_seconds applies "
        "while that connection is down.",
    )
    stream_credential_check_seconds: float = Field(
        default=5.0,
        gt=0,
        description="How often an open stream checks that its API key is not "
        "revoked; a stream ends at its access token's expiry in any case.",
    )
    stream_keepalive_seconds: float = Field(
        default=15.0, gt=0, description="Interval of keep-alive comments on /stream."
    )
    stream_batch_size: int = Field(
        default=100, gt=0, description="Max stream events read in one poll."
    )
    delivery_in_process: bool = Field(
        default=True,
        description="Run the webhook delivery worker in the API process. Set it "
        "to false where `campo-reporting deliver` runs the worker in a process "
        "of its own, so that POSTs and their bookkeeping take no CPU from the "
        "consumer and the live stream.",
    )
    webhook_allow_loopback: bool = Field(
        default=False,
        description="Accept webhook URLs on loopback addresses (127.0.0.0/8, ::1), "
        "for local receivers. Private and metadata addresses stay rejected.",
    )
    webhook_retry_schedule_seconds: Annotated[tuple[float, ...], NoDecode] = Field(
        default=DEFAULT_RETRY_SCHEDULE_SECONDS,
        description="Delays before each retry of a failed delivery, comma-separated; "
        "a delivery is failed after one attempt more than this list has entries.",
    )
    webhook_retry_jitter_ratio: float = Field(
        default=0.1, ge=0, lt=1, description="Random spread of each retry delay."
    )
    webhook_poll_interval_seconds: float = Field(
        default=0.5,
        gt=0,
        description="Maximum wait of the delivery worker between two claims.",
    )
    webhook_lease_seconds: float = Field(
        default=60.0,
        gt=0,
        description="How long a claimed delivery stays hidden from other workers; "
        "it must exceed webhook_timeout_seconds.",
    )
    webhook_timeout_seconds: float = Field(
        default=15.0,
        gt=0,
        description="Max duration of one webhook attempt: host lookup, connection "
        "and POST.",
    )
    webhook_max_in_flight_per_subscription: int = Field(
        default=4,
        gt=0,
        description="Max concurrent webhook POSTs to one subscription, so that a "
        "slow receiver cannot take every slot of the worker.",
    )
    webhook_max_in_flight: int = Field(
        default=64, gt=0, description="Max concurrent webhook POSTs of one worker."
    )
    webhook_secret_overlap_seconds: float = Field(
        default=86400.0,
        ge=0,
        description="How long the old secret keeps signing after a rotation.",
    )
    webhook_disable_after_failing_seconds: float = Field(
        default=5 * 86400.0,
        gt=0,
        description="A subscription whose attempts have all failed for this long "
        "is disabled and the tenant is told on the stream.",
    )
    webhook_replay_max_range_seconds: float = Field(
        default=14 * 86400.0, gt=0, description="Longest range one replay may cover."
    )
    webhook_replay_max_messages: int = Field(
        default=1000, gt=0, description="Most messages one replay may queue."
    )
    export_visits_base_url: str = Field(
        default="http://127.0.0.1:8003",
        description="Public base URL of the visits API, for the photo links of "
        "campaign exports.",
    )
    export_time_zone: str = Field(
        default="America/Mexico_City",
        description="IANA time zone of the dates and times in campaign exports.",
    )
    export_batch_rows: int = Field(
        default=1000,
        gt=0,
        le=50_000,
        description="Visits read from the database and written out at a time.",
    )
    export_max_per_tenant: int = Field(
        default=2,
        gt=0,
        description="Exports one tenant may have running at once in a process; "
        "each holds a database connection while its client reads.",
    )
    export_max_running: int = Field(
        default=4,
        gt=0,
        description="Exports all tenants together may have running at once in "
        "a process; the pool opens at most twice DATABASE_POOL_SIZE "
        "connections, and the consumer and the API need some of them.",
    )
    export_statement_timeout_seconds: float = Field(
        default=600.0,
        gt=0,
        description="Maximum time a statement of an export's read may run in the "
        "database before it is cancelled and the download ends unfinished.",
    )
    export_idle_timeout_seconds: float = Field(
        default=60.0,
        gt=0,
        description="Maximum time an export's transaction may wait for its client "
        "between batches before the database ends its connection.",
    )

    @field_validator("webhook_retry_schedule_seconds", mode="before")
    @classmethod
    def parse_schedule(cls, value: object) -> object:
        if isinstance(value, str):
            parts = [part.strip() for part in value.split(",") if part.strip()]
            return tuple(float(part) for part in parts)
        return value

    @field_validator("webhook_retry_schedule_seconds")
    @classmethod
    def check_schedule(cls, value: tuple[float, ...]) -> tuple[float, ...]:
        if any(delay < 0 for delay in value):
            raise ValueError("retry delays must be zero or positive seconds")
        return value

    @field_validator("export_time_zone")
    @classmethod
    def check_time_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as error:
            raise ValueError(
                f"REPORTING_EXPORT_TIME_ZONE={value!r} is not an IANA time zone; "
                "use a name such as America/Mexico_City"
            ) from error
        return value

    @model_validator(mode="after")
    def check_lease_covers_timeout(self) -> "ReportingSettings":
        if self.webhook_lease_seconds <= self.webhook_timeout_seconds:
            raise ValueError(
                "REPORTING_WEBHOOK_LEASE_SECONDS must exceed "
                "REPORTING_WEBHOOK_TIMEOUT_SECONDS, or a slow delivery is sent twice"
            )
        return self
