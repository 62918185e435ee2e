"""The rows of an upload that had errors or warnings, as XLSX or CSV.

Each report row repeats the original cells under the file's own headers,
with the Excel row number of the original in front and the issues at the
end, so the director can fix the rows and upload them again.
"""

import csv
import io
import re
import uuid
from collections import defaultdict
from dataclasses import dataclass, field, replace
from typing import TypeVar

import xlsxwriter
from sqlalchemy.ext.asyncio import AsyncSession

from ingest.uploads import job_repository, repository
from ingest.uploads.issue_values import reported_value
from shared.errors import ConflictError

T = TypeVar("T")

ROW_HEADER = "Excel row"
# Accounts sent as JSON to /accounts/bulk are reported by their 0-based
# position in the request's `accounts` list.
ITEM_HEADER = "Item index"
ISSUES_HEADER = "Errors"
# Text that a spreadsheet would run as a formula when the CSV is opened.
_FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
# A signed number such as -12.5 or +3e2 is left as it is; `-inf` is not one.
_NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")


class ReportNotReadyError(ConflictError):
    code = "report-not-ready"
    title = "The upload has no row report"


@dataclass
class ReportRow:
    row_number: int
    cells: list[str | None]
    issues: str


@dataclass
class UploadReport:
    filename: str
    headers: list[str]
    rows: list[ReportRow]
    row_header: str = ROW_HEADER
    # The account field each column was read into, None for a column the
    # tenant added; aligned with `headers`.
    fields: list[str | None] = field(default_factory=list)

    def masked(self) -> "UploadReport":
        """Return the report as a caller without `personal:read` may see it.

        Each cell is shown, masked or withheld as the upload's error list
        shows the cell it complains about (see `issue_values`).
        """

        def cell(index: int, value: str | None) -> str | None:
            name = self.fields[index] if index < len(self.fields) else None
            return reported_value(name or "", value)

        rows = [
            replace(row, cells=[cell(i, v) for i, v in enumerate(row.cells)])
            for row in self.rows
        ]
        return replace(self, rows=rows)

    def header_row(self) -> list[str]:
        return [self.row_header, *self.headers, ISSUES_HEADER]

    def width(self) -> int:
        widest = max((len(row.cells) for row in self.rows), default=0)
        return max(len(self.headers), widest)


async def load_report(
    session: AsyncSession, *, tenant_id: uuid.UUID, upload_id: uuid.UUID
) -> UploadReport:
    async with session.begin():
        upload = await repository.require_upload(
            session, tenant_id=tenant_id, upload_id=upload_id
        )
        _check_reported(upload.status, upload_id, upload.failure_message)
        issues = await repository.list_row_issues(
            session, tenant_id=tenant_id, upload_id=upload_id
        )
        cells = await job_repository.list_row_cells(
            session, tenant_id=tenant_id, upload_id=upload_id
        )
    messages: dict[int, list[str]] = defaultdict(list)
    for issue in issues:
        label = "error" if issue.severity == "error" else "warning"
        column = f" ({issue.column})" if issue.column else ""
        messages[issue.row_number].append(f"{label}{column}: {issue.message}")
    rows = [
        ReportRow(row_number, cells.get(row_number, []), "\n".join(texts))
        for row_number, texts in sorted(messages.items())
    ]
    row_header = ITEM_HEADER if upload.file_format == "json" else ROW_HEADER
    headers = list(upload.headers or [])
    mapped = (upload.column_report or {}).get("columns") or {}
    fields = [mapped.get(header) for header in headers]
    return UploadReport(upload.filename, headers, rows, row_header, fields)


def _check_reported(
    status: str, upload_id: uuid.UUID, failure_message: str | None
) -> None:
    """Refuse the report of an upload that is not finished or stored nothing.

    An empty report would read as a file without errors.
    """
    if status in ("queued", "processing"):
        raise ReportNotReadyError(
            f"upload {upload_id} is {status}; its report is ready when the "
            f"upload is completed or rejected, so follow GET /uploads/{upload_id}",
            current_state=status,
        )
    if status == "failed":
        raise ReportNotReadyError(
            f"upload {upload_id} failed, so no row was checked and there is no "
            f"report: {failure_message or 'the file could not be processed'}",
            current_state=status,
        )


def xlsx_report(report: UploadReport) -> bytes:
    """Write the report as a workbook; every cell is text, never a formula."""
    buffer = io.BytesIO()
    workbook = xlsxwriter.Workbook(buffer, {"in_memory": True})
    sheet = workbook.add_worksheet("Errores")
    bold = workbook.add_format({"bold": True})
    wrap = workbook.add_format({"text_wrap": True, "valign": "top"})
    width = report.width()
    headers = report.header_row()
    headers[1:-1] = _padded(report.headers, width, "")
    for column, header in enumerate(headers):
        sheet.write_string(0, column, header, bold)
    for index, row in enumerate(report.rows, start=1):
        sheet.write_number(index, 0, row.row_number)
        for column, value in enumerate(_padded(row.cells, width, None), start=1):
            if value is not None:
                sheet.write_string(index, column, value)
        sheet.write_string(index, width + 1, row.issues, wrap)
    sheet.set_column(width + 1, width + 1, 80)
    sheet.freeze_panes(1, 1)
    workbook.close()
    return buffer.getvalue()


def csv_report(report: UploadReport) -> bytes:
    """Write the report as UTF-8 CSV with a BOM, so Excel reads the accents."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    width = report.width()
    headers = [_csv_safe(header) for header in _padded(report.headers, width, "")]
    writer.writerow([report.row_header, *headers, ISSUES_HEADER])
    for row in report.rows:
        cells = [_csv_safe(cell or "") for cell in _padded(row.cells, width, None)]
        writer.writerow([row.row_number, *cells, _csv_safe(row.issues)])
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")


def _padded(values: list[T], width: int, filler: T) -> list[T]:
    return [*values, *([filler] * (width - len(values)))]


def _csv_safe(value: str) -> str:
    """Quote text a spreadsheet would run as a formula, unless it is a number."""
    if not value.startswith(_FORMULA_PREFIXES) or _NUMBER.fullmatch(value):
        return value
    return "'" + value
