from typing import ClassVar, Literal

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import SettingsConfigDict

from shared.events.payloads import LocationPrecision
from shared.settings import SECRET_VARIABLES, ServiceSettings

DEVELOPMENT_SIGNING_KEY_SECRET = "development-only-signing-key-secret-change-me"


class IngestSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="INGEST_", extra="ignore")
    secret_variables: ClassVar[dict[str, str]] = {
        **SECRET_VARIABLES,
        "INGEST_SIGNING_KEY_SECRET": "signing_key_secret",
    }

    max_upload_bytes: int = Field(
        default=20 * 1024 * 1024, gt=0, description="Largest portfolio file accepted."
    )
    max_upload_rows: int = Field(
        default=100_000, gt=0, description="Most data rows read from one file."
    )
    upload_progress_seconds: float = Field(
        default=1.0,
        gt=0,
        description="Seconds between two writes of a running upload's progress.",
    )
    upload_workers: int = Field(
        default=2,
        ge=1,
        le=16,
        description="Background uploads one process runs at the same time.",
    )
    upload_heartbeat_seconds: float = Field(
        default=15.0,
        gt=0,
        description="Seconds between two heartbeats of a process's background uploads.",
    )
    upload_stale_seconds: float = Field(
        default=120.0,
        gt=0,
        description="Seconds without a heartbeat after which a background upload "
        "is failed, because the process that held its file stopped.",
    )
    upload_events_poll_seconds: float = Field(
        default=0.5,
        gt=0,
        description="Seconds between two reads of an upload by its event stream.",
    )
    revisit_poll_seconds: float = Field(
        default=5.0,
        gt=0,
        description="Seconds between two passes of the due-revisit loop.",
    )
    revisit_batch_size: int = Field(
        default=100, ge=1, description="Due revisits requested per transaction."
    )

    file_location_precision: LocationPrecision = Field(
        default=LocationPrecision.ROOFTOP,
        description="Precision recorded for coordinates that come in the file.",
    )
    foreign_coordinates: Literal["geocode_address", "keep"] = Field(
        default="geocode_address",
        description=(
            "What to do with file coordinates outside Mexico: `geocode_address` "
            "ignores them and places the account by its address; `keep` stores "
            "them. Both add a warning to the upload report."
        ),
    )
    geocoder: Literal["gazetteer", "nominatim"] = Field(
        default="gazetteer",
        description=(
            "How accounts without coordinates are placed: `gazetteer` works "
            "offline from GeoNames; `nominatim` asks the provider at "
            "INGEST_NOMINATIM_URL first and falls back to the gazetteer."
        ),
    )
    nominatim_url: str | None = Field(
        default=None,
        pattern=r"^https?://",
        description="Base URL of a Nominatim-compatible provider, without /search.",
    )
    nominatim_user_agent: str = Field(
        default="campo-ingest/0.1",
        min_length=1,
        description="User-Agent sent to the provider, which may require one.",
    )
    nominatim_requests_per_second: float = Field(
        default=1.0,
        gt=0,
        description="Maximum requests sent to the provider per second, per process.",
    )
    nominatim_timeout_seconds: float = Field(
        default=10.0, gt=0, description="Time allowed for one provider request."
    )
    nominatim_max_requests_per_upload: int = Field(
        default=120,
        ge=0,
        description=(
            "Provider requests one upload may make; the upload waits for them, "
            "so the rest of its addresses go to the gazetteer."
        ),
    )

    signing_key_secret: SecretStr = Field(
        default=SecretStr(DEVELOPMENT_SIGNING_KEY_SECRET),
        description=(
            "Encrypts the private keys that sign people's access tokens, as "
            "stored in the database; at least 32 characters."
        ),
    )
    access_token_minutes: int = Field(
        default=15, ge=1, le=60, description="Lifetime of a person's access token."
    )
    refresh_token_days: int = Field(
        default=14, ge=1, le=90, description="Lifetime of a refresh token."
    )

    @model_validator(mode="after")
    def reject_development_signing_secret(self) -> "IngestSettings":
        secret = self.signing_key_secret.get_secret_value()
        if len(secret) < 32:
            raise ValueError(
                f"INGEST_SIGNING_KEY_SECRET is {len(secret)} characters long; it "
                "must be at least 32, e.g. the output of `openssl rand -hex 32`"
            )
        if (
            self.environment == "production"
            and secret == DEVELOPMENT_SIGNING_KEY_SECRET
        ):
            raise ValueError(
                "INGEST_SIGNING_KEY_SECRET is the development default; set a "
                "random secret of at least 32 characters before running in "
                "production"
            )
        return self

    @model_validator(mode="after")
    def require_nominatim_url(self) -> "IngestSettings":
        if self.geocoder == "nominatim" and not self.nominatim_url:
            raise ValueError(
                "INGEST_GEOCODER=nominatim needs INGEST_NOMINATIM_URL, the "
                "provider's base URL, e.g. http://127.0.0.1:8080"
            )
        return self

    @model_validator(mode="after")
    def require_stale_after_heartbeats(self) -> "IngestSettings":
        # A sweep may run just before a heartbeat, so a live job's heartbeat
        # can be one interval old plus the time the beat itself takes.
        if self.upload_stale_seconds < 2 * self.upload_heartbeat_seconds:
            raise ValueError(
                f"INGEST_UPLOAD_STALE_SECONDS ({self.upload_stale_seconds:g}) must "
                "be at least twice INGEST_UPLOAD_HEARTBEAT_SECONDS "
                f"({self.upload_heartbeat_seconds:g}), or live uploads would be "
                "failed as stale; raise the first or lower the second"
            )
        return self
