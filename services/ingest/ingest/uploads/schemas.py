from datetime import datetime
from enum import StrEnum
from typing import Any
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from shared.schemas import RequestModel


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


class OnError(StrEnum):
    """The policy for an upload's valid rows when other rows have errors."""

    STORE_VALID = "store_valid"
    REJECT_ALL = "reject_all"


class UploadSummaryOut(BaseModel):
    upload_id: UUID
    filename: str
    file_format: str
    status: str = Field(
        description=(
            "`queued`, `processing`, `completed`, `failed` (the file could not "
            "be read; see `failure_message`) or `rejected` (`on_error` is "
            "`reject_all` and a row has an error, so nothing was stored)."
        )
    )
    on_error: OnError
    rows_read: int = Field(description="Data rows parsed so far.")
    rows_total: int = Field(description="Data rows read, skipped rows not counted.")
    rows_valid: int = Field(
        description="Rows without errors so far; 0 once the upload failed."
    )
    rows_invalid: int = Field(
        description="Rows with an error so far; 0 once the upload failed."
    )
    progress_percent: int = Field(ge=0, le=100)
    accounts_created: int
    accounts_updated: int
    accounts_unchanged: int = Field(
        default=0,
        description="Valid rows whose account already held the same values.",
    )
    failure_message: str | None = None
    created_at: datetime
    finished_at: datetime | None


class UploadPage(BaseModel):
    items: list[UploadSummaryOut]
    next_cursor: str | None = Field(
        description="Pass as `cursor` for the next, older page; null on the last."
    )


class UploadSettingsIn(RequestModel):
    on_error: OnError = Field(
        description="Policy for uploads that do not send `on_error` themselves."
    )


class UploadSettingsOut(UploadSettingsIn):
    model_config = ConfigDict(extra="ignore")


class UploadOut(UploadSummaryOut):
    header_row: int | None = None
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
    errors: list[RowErrorOut] = Field(
        default_factory=list,
        description=(
            "The first row errors and warnings, in row order; `errors_total` "
            "counts them all, and GET /uploads/{upload_id}/errors pages "
            "through every one."
        ),
    )
    errors_total: int = Field(
        default=0, description="Row errors and warnings the upload has in all."
    )
    errors_truncated: bool = Field(
        default=False,
        description="True when `errors` contains only the first of `errors_total`.",
    )


class RowErrorPage(BaseModel):
    items: list[RowErrorOut]
    next_cursor: str | None = Field(
        description="Pass as `cursor` for the next page; null on the last."
    )
