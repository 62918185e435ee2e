"""Progress of one upload, counted as rows are parsed and accounts stored.

The parser calls `on_row` from its worker thread, and the store step calls
the `StoreProgress` that `store_callback` returns once its single statement
has run, inside the transaction that writes the accounts. Neither writes to
the database. `write_progress_periodically` copies the counts to the upload
row in its own short transactions, at most once per interval.
"""

import asyncio
import uuid
from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ingest.uploads import job_repository
from ingest.uploads.rows import ParsedRow

# Shares of the percentage: parsing reaches PARSED_PERCENT, geocoding
# LOCATED_PERCENT, and storing the accounts the rest up to 100.
PARSED_PERCENT = 40
LOCATED_PERCENT = 50
# Characters kept of each original cell for the error report.
MAX_REPORT_CELL_CHARS = 1_000


@dataclass
class UploadProgress:
    rows_read: int = 0
    rows_valid: int = 0
    rows_invalid: int = 0
    percent: int = 0
    # Original cells of the rows with issues, by Excel row number, for the
    # error report. Rows without issues are not kept, because a large file
    # would keep every cell in memory twice.
    cells: dict[int, list[object]] = field(default_factory=dict)

    def on_row(self, row: ParsedRow, cells: list[object], last_row: int) -> None:
        self.rows_read += 1
        if row.account is None:
            self.rows_invalid += 1
        else:
            self.rows_valid += 1
        if row.issues:
            self.cells[row.row_number] = cells
        # The last row of a CSV file is an estimate that changes as the file
        # is read, so the percentage is kept from going back.
        share = PARSED_PERCENT * row.row_number // max(last_row, 1)
        self.percent = max(self.percent, min(share, PARSED_PERCENT))

    def keep_cells(self, cells: dict[int, list[object]]) -> None:
        """Add the cells of rows that got issues after they were parsed."""
        self.cells.update(cells)

    def on_located(self) -> None:
        self.percent = LOCATED_PERCENT

    def store_callback(self, total: int) -> "StoreProgress":
        return StoreProgress(self, total)

    def snapshot(self) -> tuple[int, int, int, int]:
        return self.rows_read, self.rows_valid, self.rows_invalid, self.percent

    def report_cells(self, row_number: int) -> list[str | None]:
        """Return a row's original cells as text, each cut to a bounded size."""
        return [
            None if cell is None else str(cell)[:MAX_REPORT_CELL_CHARS]
            for cell in self.cells.get(row_number, [])
        ]


@dataclass
class StoreProgress:
    progress: UploadProgress
    total: int

    def __call__(self, stored: int) -> None:
        share = (100 - LOCATED_PERCENT) * stored // max(self.total, 1)
        # Capped below 100: only the finished upload reads 100.
        self.progress.percent = min(LOCATED_PERCENT + share, 99)


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
