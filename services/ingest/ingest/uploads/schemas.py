from datetime import datetime
from uuid import UUID

from pydantic import BaseModel, Field


class RowErrorOut(BaseModel):
    row: int = Field(description="Row number as Excel shows it.")
    column: str | None
    value: str | None
    message: str
    severity: str = Field(description="`error` rejects the row; `warning` keeps it.")


class UploadOut(BaseModel):
    upload_id: UUID
    filename: str
    file_format: str
    status: str
    header_row: int | None = None
    rows_total: int
    rows_valid: int
    rows_invalid: int
    accounts_created: int
    accounts_updated: int
    extra_columns: list[str] = Field(
        default_factory=list, description="Columns kept on each account as extras."
    )
    renamed_duplicate_columns: list[str] = Field(default_factory=list)
    created_at: datetime
    finished_at: datetime | None
    errors: list[RowErrorOut] = Field(default_factory=list)
