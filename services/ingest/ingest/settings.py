from pydantic import Field
from pydantic_settings import SettingsConfigDict

from shared.settings import ServiceSettings


class IngestSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="INGEST_", extra="ignore")

    max_upload_bytes: int = Field(
        default=20 * 1024 * 1024, gt=0, description="Largest portfolio file accepted."
    )
    max_upload_rows: int = Field(
        default=100_000, gt=0, description="Most data rows read from one file."
    )
    revisit_poll_seconds: float = Field(
        default=5.0,
        gt=0,
        description="Seconds between two passes of the due-revisit loop.",
    )
    revisit_batch_size: int = Field(
        default=100, ge=1, description="Due revisits requested per transaction."
    )
