from datetime import datetime
from typing import Any
from uuid import UUID

from pydantic import BaseModel, Field


class RowErrorOut(BaseModel):
    row: int = Field(description="Row number as Excel shows it.")
    column: str | None
    value: str | None
    message: str
    severity: str = Field(description="`error` rejects the row; `warning` keeps it.")


class RenamedColumnOut(BaseModel):
    """A repeated header kept apart under a numbered name."""

    header: str = Field(description="The header as written in the file.")
    column: str | None = Field(description="The column letter, such as M.")
    name: str = Field(description="The extra attribute name the values went to.")

    @classmethod
    def from_report(cls, item: Any) -> "RenamedColumnOut":
        # Uploads stored before the column letter was recorded kept the name only.
        if isinstance(item, str):
            return cls(header=item, column=None, name=item)
        return cls.model_validate(item)


class SkippedRowOut(BaseModel):
    """A row that is not an account, such as a totals row."""

    row: int = Field(description="Row number as Excel shows it.")
    reason: str


class UploadOut(BaseModel):
    upload_id: UUID
    filename: str
    file_format: str
    status: str
    header_row: int | None = None
    rows_total: int = Field(description="Data rows read, skipped rows not counted.")
    rows_valid: int
    rows_invalid: int
    accounts_created: int
    accounts_updated: int
    accounts_unchanged: int = Field(
        default=0,
        description="Valid rows whose account already held the same values.",
    )
    columns: dict[str, str] = Field(
        default_factory=dict, description="Header -> field, as the file was read."
    )
    extra_columns: list[str] = Field(
        default_factory=list, description="Columns kept on each account as extras."
    )
    renamed_duplicate_columns: list[RenamedColumnOut] = Field(default_factory=list)
    skipped_rows: list[SkippedRowOut] = Field(
        default_factory=list, description="Rows that are not accounts, not errors."
    )
    notices: list[str] = Field(
        default_factory=list,
        description="Facts about the file's layout, such as blank rows amid data.",
    )
    created_at: datetime
    finished_at: datetime | None
    errors: list[RowErrorOut] = Field(default_factory=list)
