from datetime import datetime

from pydantic import BaseModel, Field

from ingest.uploads.columns import FIELD_NAMES
from shared.schemas import RequestModel, free_text


class ColumnMappingIn(RequestModel):
    mapping: dict[free_text(500), free_text(100)] = Field(
        description=(
            "Header as it appears in the file -> account field, for example "
            '{"Núm. Cliente Banco": "account_key"}. Fields: ' + ", ".join(FIELD_NAMES)
        ),
        max_length=200,
    )


class ColumnMappingOut(BaseModel):
    mapping: dict[str, str]
    fields: list[str] = Field(
        default_factory=lambda: list(FIELD_NAMES),
        description="Every field a header may be mapped to.",
    )
    updated_at: datetime | None = None
