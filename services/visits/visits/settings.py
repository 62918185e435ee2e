from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from shared.settings import ServiceSettings
from visits.images import DEFAULT_MAX_PIXELS, MAX_PHOTO_PIXELS_SETTING


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

    # --- photo evidence -------------------------------------------------------
    photo_max_bytes: int = Field(
        default=8 * 1024 * 1024,
        gt=0,
        description="Largest photo an agent may upload, in bytes.",
    )
    photo_max_pixels: int = Field(
        default=DEFAULT_MAX_PIXELS,
        gt=0,
        le=MAX_PHOTO_PIXELS_SETTING,
        description=(
            "Most pixels (width times height) a photo may have. Each upload is "
            "decoded to check it, so this bounds the memory an upload takes "
            f"(at most {MAX_PHOTO_PIXELS_SETTING:,}: a PNG that large takes "
            "about 1.6 GB to decode)."
        ),
    )
    photo_types: list[Literal["jpeg", "png", "webp", "heic"]] = Field(
        default=["jpeg", "png", "webp", "heic"],
        min_length=1,
        description="Image formats accepted, judged from the bytes.",
    )
    photo_store: Literal["local", "s3"] = Field(
        default="local", description="Where photo bytes are kept."
    )
    photo_dir: Path = Field(
        default=Path(".local/photos"),
        description="Directory of the local photo store.",
    )
    photo_s3_bucket: str | None = Field(
        default=None, description="Bucket of the S3-compatible photo store."
    )
    photo_s3_endpoint_url: str | None = Field(
        default=None,
        description="Endpoint of an S3-compatible store; None for AWS itself.",
    )
    photo_s3_prefix: str = Field(
        default="photos/", description="Key prefix of photo objects in the bucket."
    )

    # --- fraud signals --------------------------------------------------------
    signal_max_distance_meters: float = Field(
        default=300, gt=0, description="Distance from the address that is a signal."
    )
    signal_max_accuracy_meters: float = Field(
        default=250, gt=0, description="GPS accuracy radius that is a signal."
    )
    signal_min_seconds_on_site: float = Field(
        default=120,
        ge=0,
        description="Check-in to result, by device times, shorter than this.",
    )
    signal_max_speed_kmh: float = Field(
        default=130,
        gt=0,
        description="Speed between the agent's consecutive check-ins above this.",
    )
    signal_max_clock_gap_seconds: float = Field(
        default=900,
        gt=0,
        description="Gap between a device time and the server's receipt above this.",
    )
    signal_max_photo_time_gap_seconds: float = Field(
        default=1800,
        gt=0,
        description="Photo EXIF time this far from the check-in is a signal.",
    )
    signal_max_photo_distance_meters: float = Field(
        default=500,
        gt=0,
        description="Photo EXIF position this far from the check-in is a signal.",
    )
    signal_weights: dict[str, float] = Field(
        default_factory=dict,
        description=(
            "Weights by signal name, each from 0 to 1, over the built-in ones; "
            'e.g. {"device_clock_gap": 0.3}.'
        ),
    )
    flag_score: float = Field(
        default=0.5,
        gt=0,
        le=1,
        description="Score from which a visit is flagged for the director.",
    )

    # --- review -----------------------------------------------------------------
    review_window_hours: float = Field(
        default=72,
        gt=0,
        description="Hours after completion during which a director may reject.",
    )
    appeal_window_hours: float = Field(
        default=72,
        gt=0,
        description="Hours after a rejection during which the agent may appeal.",
    )

    # --- promises ---------------------------------------------------------------
    promise_check_interval_seconds: float = Field(
        default=300,
        gt=0,
        description="Seconds between passes that mark overdue promises broken.",
    )

    # --- earnings ---------------------------------------------------------------
    earnings_check_interval_seconds: float = Field(
        default=300,
        gt=0,
        description=(
            "Seconds between passes that earn the fees of visits whose review "
            "window closed without a rejection."
        ),
    )
