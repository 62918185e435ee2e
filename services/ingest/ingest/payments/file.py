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
# Rows per insert statement and transaction: 8 parameters a row stays far
# below asyncpg's limit of 32,767 parameters per statement.
BATCH_ROWS = 1_000
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
    """Report every valid row; invalid rows go to the report with their line.

    Rows are stored BATCH_ROWS at a time, each batch in its own transaction.
    A file sent again after a failure half way reports the stored rows as
    duplicates, because a reference is one payment per account.
    """
    errors: list[PaymentRowError] = []
    valid: list[tuple[int, PaymentIn]] = []
    for line, values in rows:
        request = _row_request(line, values, errors=errors)
        if request is not None:
            valid.append((line, request))

    created = duplicates = 0
    for start in range(0, len(valid), BATCH_ROWS):
        batch = valid[start : start + BATCH_ROWS]
        async with session.begin():
            outcomes = await service.report_payments(
                runtime,
                session,
                tenant_id=tenant_id,
                requests=[request for _, request in batch],
            )
        runtime.relay.notify()
        for (line, _), outcome in zip(batch, outcomes, strict=True):
            if isinstance(outcome, AppError):
                errors.append(
                    PaymentRowError(row=line, column=None, message=outcome.detail)
                )
            elif outcome.created:
                created += 1
            else:
                duplicates += 1

    errors.sort(key=lambda error: error.row)
    invalid = len({error.row for error in errors})
    return PaymentFileReport(
        rows_total=len(rows),
        payments_created=created,
        duplicates=duplicates,
        rows_invalid=invalid,
        errors=errors[:MAX_ERRORS_SHOWN],
    )


def _row_request(
    line: int, values: dict[str, Any], *, errors: list[PaymentRowError]
) -> PaymentIn | None:
    """Validate one row, reading amounts and dates as portfolio files write them."""
    problems: list[PaymentRowError] = []
    for column, value in values.items():
        if "\x00" in value:
            problems.append(
                PaymentRowError(
                    row=line,
                    column=column,
                    message=f"{column} contains a NUL character (\\x00); remove it",
                )
            )
    if problems:
        errors.extend(problems)
        return None
    try:
        return PaymentIn.model_validate(values)
    except ValidationError as error:
        errors.extend(_row_errors(line, values, error))
        return None


def _row_errors(
    line: int, values: dict[str, Any], error: ValidationError
) -> list[PaymentRowError]:
    """Turn validation errors into row errors that name the column and value."""
    found = []
    for item in error.errors():
        column = ".".join(str(part) for part in item["loc"]) or None
        if column is None and item["type"] in COLUMNS:
            # Amounts and dates are read before the fields, by the model.
            column = item["type"]
        message = item["msg"]
        if item["type"] == "missing":
            message = f"{column} is required and is empty; fill it in"
        value = values.get(column) if column else None
        found.append(
            PaymentRowError(
                row=line,
                column=column,
                value=value[:200] if isinstance(value, str) else None,
                message=message,
            )
        )
    return found
