"""Bulk payments from a CSV file: one payment per row, a report of the rest."""

import csv
import io
import uuid
from typing import Any

from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from ingest.payments import service
from ingest.payments.schemas import PaymentFileReport, PaymentIn, PaymentRowError
from shared.errors import AppError, UnprocessableError
from shared.runtime import ServiceRuntime

COLUMNS = ("account_key", "account_id", "amount", "currency", "paid_on", "reference")
REQUIRED = ("amount", "paid_on", "reference")
MAX_ERRORS_SHOWN = 1_000
SNIFF_CHARS = 4096


class UnreadablePaymentFileError(UnprocessableError):
    code = "unreadable-payment-file"
    title = "The payment file cannot be read"


def parse_rows(content: bytes, *, max_rows: int) -> list[tuple[int, dict[str, Any]]]:
    """Return (line number, values) per data row; raise on a bad header."""
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise UnreadablePaymentFileError(
            "the payment file is not UTF-8 text; export it as CSV UTF-8"
        ) from None
    try:
        # Spreadsheets set to Spanish locales export with semicolons.
        dialect: type[csv.Dialect] | csv.Dialect = csv.Sniffer().sniff(
            text[:SNIFF_CHARS], delimiters=",;\t"
        )
    except csv.Error:
        dialect = csv.excel
    reader = csv.DictReader(io.StringIO(text, newline=""), dialect=dialect)
    header = [name.strip().lower() for name in reader.fieldnames or []]
    missing = [name for name in REQUIRED if name not in header]
    if missing or not {"account_key", "account_id"} & set(header):
        raise UnreadablePaymentFileError(
            f"the header row lacks {', '.join(missing) or 'account_key'}; the "
            f"columns are {', '.join(COLUMNS)}, with account_key or account_id"
        )
    reader.fieldnames = header
    rows = []
    for index, raw in enumerate(reader):
        if index >= max_rows:
            raise UnreadablePaymentFileError(
                f"the payment file has more than {max_rows} rows; split it"
            )
        values = {
            name: value.strip()
            for name, value in raw.items()
            if name in COLUMNS and isinstance(value, str) and value.strip()
        }
        rows.append((reader.line_num, values))
    return rows


async def report_file(
    runtime: ServiceRuntime,
    session: AsyncSession,
    *,
    tenant_id: uuid.UUID,
    rows: list[tuple[int, dict[str, Any]]],
) -> PaymentFileReport:
    """Report every valid row in one transaction; invalid rows go to the report."""
    errors: list[PaymentRowError] = []
    created = duplicates = 0
    async with session.begin():
        for line, values in rows:
            try:
                request = PaymentIn.model_validate(values)
            except ValidationError as error:
                errors.extend(_row_errors(line, error))
                continue
            try:
                reported = await service.report_payment(
                    runtime, session, tenant_id=tenant_id, request=request
                )
            except AppError as error:
                errors.append(
                    PaymentRowError(row=line, column=None, message=error.detail)
                )
                continue
            created += reported.created
            duplicates += not reported.created
    runtime.relay.notify()
    invalid = len({error.row for error in errors})
    return PaymentFileReport(
        rows_total=len(rows),
        payments_created=created,
        duplicates=duplicates,
        rows_invalid=invalid,
        errors=errors[:MAX_ERRORS_SHOWN],
    )


def _row_errors(line: int, error: ValidationError) -> list[PaymentRowError]:
    return [
        PaymentRowError(
            row=line,
            column=".".join(str(part) for part in item["loc"]) or None,
            message=item["msg"],
        )
        for item in error.errors()
    ]
