"""Progress of one upload, counted as rows are parsed and accounts stored.

The parser calls `on_row` from its worker thread as it reads each row. The
rows are placed and staged a chunk at a time, and the percentage reaches
STAGED_PERCENT when the last chunk is staged. The store step calls
the `StoreProgress` that `store_callback` returns once its single statement
has run, inside the transaction that writes the accounts. Neither writes to
the database. `write_progress_periodically` copies the counts to the upload
row in its own short transactions, at most once per interval.
"""

import asyncio
import uuid
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ingest.uploads import job_repository
from ingest.uploads.rows import ParsedRow

# Shares of the percentage: reading, placing and staging the rows reach
# STAGED_PERCENT, and storing the accounts the rest up to 100.
STAGED_PERCENT = 60
# Characters kept of each original cell for the error report.
MAX_REPORT_CELL_CHARS = 1_000


@dataclass
class UploadProgress:
    rows_read: int = 0
    rows_valid: int = 0
    rows_invalid: int = 0
    percent: int = 0

    def on_row(self, row: ParsedRow, last_row: int) -> None:
        self.rows_read += 1
        if row.account is None:
            self.rows_invalid += 1
        else:
            self.rows_valid += 1
        # The last row of a CSV file is an estimate that changes as the file
        # is read, so the percentage is kept from going back. The last chunk
        # is still being placed when its last row is read, so reading alone
        # stops one short of STAGED_PERCENT.
        share = STAGED_PERCENT * row.row_number // max(last_row, 1)
        self.percent = max(self.percent, min(share, STAGED_PERCENT - 1))

    def on_staged(self) -> None:
        self.percent = STAGED_PERCENT

    def store_callback(self, total: int) -> "StoreProgress":
        return StoreProgress(self, total)

    def snapshot(self) -> tuple[int, int, int, int]:
        return self.rows_read, self.rows_valid, self.rows_invalid, self.percent


def report_cells(cells: list[object]) -> list[str | None]:
    """Return a row's original cells as text for the error report.

    Each cell is cut to a bounded size, and NUL characters, which
    PostgreSQL rejects, are removed.
    """
    return [None if cell is None else _cell_text(cell) for cell in cells]


def _cell_text(cell: object) -> str:
    # A number cell is written with at most 15 significant digits, as Excel
    # shows it, so 100 is not reported as `100.0`.
    if isinstance(cell, float):
        return format(cell, ".15g")
    return str(cell).replace("\x00", "")[:MAX_REPORT_CELL_CHARS]


@dataclass
class StoreProgress:
    progress: UploadProgress
    total: int

    def __call__(self, stored: int) -> None:
        share = (100 - STAGED_PERCENT) * stored // max(self.total, 1)
        # Capped below 100: only the finished upload reads 100.
        self.progress.percent = min(STAGED_PERCENT + share, 99)


async def write_progress_periodically(
    sessionmaker: async_sessionmaker[AsyncSession],
    upload_id: uuid.UUID,
    progress: UploadProgress,
    *,
    interval_seconds: float,
) -> None:
    """Copy the counts to the upload row each interval when they changed."""
    written: tuple[int, int, int, int] | None = None
    while True:
        await asyncio.sleep(interval_seconds)
        current = progress.snapshot()
        if current == written:
            continue
        async with sessionmaker() as session, session.begin():
            await job_repository.write_progress(session, upload_id, *current)
        written = current
