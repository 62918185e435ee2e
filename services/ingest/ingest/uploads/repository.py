"""SQL for uploads and the accounts they upsert."""

import functools
import json
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, insert, select, tuple_, update
from sqlalchemy.ext.asyncio import AsyncSession

from ingest.geocoding.service import UNPLACED, Placement
from ingest.models import Upload, UploadError, common
from ingest.uploads.normalize import AccountRow, RowIssue
from ingest.uploads.rows import ParsedRow
from shared.errors import NotFoundError
from shared.events.payloads import AccountUpserted

_UPDATABLE = (
    "debtor_name",
    "balance_overdue",
    "currency",
    "days_past_due",
    "street",
    "exterior_number",
    "interior_number",
    "colonia",
    "municipality",
    "state",
    "postal_code",
    "cross_streets",
    "address_references",
    "credit_number",
    "last_payment_date",
    "birth_date",
    "phone",
    "location",
    "location_precision",
    "location_source",
    "location_status",
    "time_zone",
    "extra",
    "last_upload_id",
)


async def insert_upload(
    session: AsyncSession, *, tenant_id: uuid.UUID, filename: str, file_format: str
) -> Upload:
    upload = Upload(
        upload_id=uuid.uuid4(),
        tenant_id=tenant_id,
        filename=filename,
        file_format=file_format,
        status="processing",
        rows_total=0,
        rows_valid=0,
        rows_invalid=0,
        accounts_created=0,
        accounts_updated=0,
        accounts_unchanged=0,
        created_at=datetime.now(UTC),
    )
    session.add(upload)
    await session.flush()
    return upload


# Staging columns in COPY order; the location travels as two numbers because
# COPY has no encoder for PostGIS types. `row_number` is the row of the file.
_STAGING_COLUMNS = (
    ("row_number", "integer"),
    ("account_key", "text"),
    ("debtor_name", "text"),
    ("balance_overdue", "numeric(14, 2)"),
    ("days_past_due", "integer"),
    ("street", "text"),
    ("exterior_number", "text"),
    ("interior_number", "text"),
    ("colonia", "text"),
    ("municipality", "text"),
    ("state", "text"),
    ("postal_code", "text"),
    ("cross_streets", "text"),
    ("address_references", "text"),
    ("credit_number", "text"),
    ("last_payment_date", "date"),
    ("birth_date", "date"),
    ("phone", "text"),
    ("lat", "double precision"),
    ("lon", "double precision"),
    ("location_precision", "text"),
    ("location_source", "text"),
    ("location_status", "text"),
    ("time_zone", "text"),
    ("extra", "jsonb"),
    ("kept_fields", "text[]"),
)
_STAGING_TABLE = "account_staging"

# Fields the staged row may leave as stored (see `AccountRow.kept_fields`).
_KEEPABLE = (
    "credit_number",
    "balance_overdue",
    "days_past_due",
    "street",
    "exterior_number",
    "interior_number",
    "colonia",
    "municipality",
    "state",
    "postal_code",
    "cross_streets",
    "address_references",
    "phone",
    "last_payment_date",
    "birth_date",
)
_ADDRESS_FIELDS = (
    "street",
    "exterior_number",
    "colonia",
    "municipality",
    "state",
    "postal_code",
)
_LOCATION_FIELDS = (
    "location_precision",
    "location_source",
    "location_status",
    "time_zone",
)


def _merged_value(name: str) -> str:
    return (
        f"CASE WHEN a.account_id IS NOT NULL AND '{name}' = ANY(s.kept_fields) "
        f"THEN a.{name} ELSE s.{name} END AS {name}_merged"
    )


def _address_unchanged() -> str:
    merged = ", ".join(
        f"CASE WHEN '{name}' = ANY(s.kept_fields) THEN a.{name} ELSE s.{name} END"
        for name in _ADDRESS_FIELDS
    )
    stored = ", ".join(f"a.{name}" for name in _ADDRESS_FIELDS)
    return f"({merged}) IS NOT DISTINCT FROM ({stored})"


# The account fields an upload sets. An account whose fields all equal the
# file's is left alone, so it keeps its updated_at and gets no event.
_COMPARED = tuple(name for name in _UPDATABLE if name != "last_upload_id")
_SQL_VALUE = {"location": "ST_AsBinary({}.location)"}
# History shows money as text, as the API does, and a location as WKT.
_HISTORY_VALUE = {
    "balance_overdue": "{}.balance_overdue::text",
    "location": "ST_AsText({}.location)",
}


def _compared(table: str) -> str:
    return ", ".join(
        _SQL_VALUE.get(name, "{}." + name).format(table) for name in _COMPARED
    )


def _history_values(table: str) -> str:
    return ", ".join(
        f"'{name}', to_jsonb({_HISTORY_VALUE.get(name, '{}.' + name).format(table)})"
        for name in _COMPARED
    )


def _inserted_value(name: str) -> str:
    if name == "currency":
        return "$2"
    if name == "last_upload_id":
        return "$3"
    return "i." + name


# The event each stored account gets, built as `AccountUpserted` dumps it to
# JSON: money as text with two decimals, absent values as JSON null.
_EVENT_DATA = """jsonb_build_object(
    'tenant_id', $1::text,
    'account_id', stored.account_id::text,
    'account_key', stored.account_key,
    'credit_number', stored.credit_number,
    'upload_id', $3::text,
    'debtor_name', stored.debtor_name,
    'balance_overdue', CASE WHEN stored.balance_overdue IS NOT NULL THEN
        jsonb_build_object(
            'amount', stored.balance_overdue::text, 'currency', stored.currency
        ) END,
    'days_past_due', stored.days_past_due,
    'address', jsonb_build_object(
        'street', stored.street,
        'exterior_number', stored.exterior_number,
        'interior_number', stored.interior_number,
        'colonia', stored.colonia,
        'municipality', stored.municipality,
        'state', stored.state,
        'postal_code', stored.postal_code,
        'cross_streets', stored.cross_streets,
        'address_references', stored.address_references
    ),
    'phone', stored.phone,
    'location', CASE WHEN stored.lat IS NOT NULL THEN
        jsonb_build_object('lat', stored.lat, 'lon', stored.lon) END,
    'location_precision', stored.location_precision,
    'location_source', stored.location_source,
    'time_zone', stored.time_zone,
    'created', stored.created
)"""

_EVENT_FIELDS = (
    "credit_number",
    "debtor_name",
    "balance_overdue",
    "currency",
    "days_past_due",
    "street",
    "exterior_number",
    "interior_number",
    "colonia",
    "municipality",
    "state",
    "postal_code",
    "cross_streets",
    "address_references",
    "phone",
    "location_precision",
    "location_source",
    "time_zone",
)

# One statement stores the staged rows: it upserts the accounts whose values
# changed, writes what changed to account_history and each account's event to
# the outbox, and counts what it did. Every part reads the accounts as they
# were before the statement, so `old` contains the values being replaced.
_UPSERT = f"""
WITH merged AS (
    SELECT s.*, a.account_id AS stored_id, a.account_key AS stored_key,
        a.location AS stored_location,
        {", ".join(f"a.{name} AS stored_{name}" for name in _LOCATION_FIELDS)},
        {", ".join(_merged_value(name) for name in _KEEPABLE)},
        CASE WHEN a.account_id IS NULL THEN s.extra
            ELSE COALESCE(a.extra, '{{}}'::jsonb) || s.extra END AS merged_extra,
        -- A location read from the file outlives an upload without coordinate
        -- columns, unless that upload changes the address.
        -- A geocoded location outlives an upload that places the account
        -- nowhere, such as one without address columns, unless it changes
        -- the address.
        -- A door a verified check-in placed outlives a new geocode of the
        -- same address, which can only be coarser; the file's own
        -- coordinates still replace it.
        (a.account_id IS NOT NULL AND {_address_unchanged()} AND (
            ('location' = ANY(s.kept_fields) AND a.location_source = 'file')
            OR (s.lat IS NULL AND a.location_source IS DISTINCT FROM 'file')
            OR (a.location_source = 'visit'
                AND s.location_source IS DISTINCT FROM 'file')
        )) AS keeps_location
    FROM pg_temp.{_STAGING_TABLE} s
    LEFT JOIN ingest.accounts a
        ON a.tenant_id = $1 AND lower(a.account_key) = lower(s.account_key)
),
incoming AS (
    -- A stored account keeps its key's spelling; `z1` updates `Z1`.
    SELECT COALESCE(m.stored_key, m.account_key) AS account_key, m.debtor_name,
        {", ".join(f"m.{name}_merged AS {name}" for name in _KEEPABLE)},
        m.merged_extra AS extra,
        CASE WHEN m.keeps_location THEN m.stored_location
            WHEN m.lat IS NOT NULL AND m.lon IS NOT NULL
            THEN ST_SetSRID(ST_MakePoint(m.lon, m.lat), 4326)::geography
        END AS location,
        {
    ", ".join(
        f"CASE WHEN m.keeps_location THEN m.stored_{name} ELSE m.{name} END AS {name}"
        for name in _LOCATION_FIELDS
    )
}
    FROM merged m
),
old AS (
    SELECT a.account_key, jsonb_build_object({_history_values("a")}) AS fields
    FROM ingest.accounts a
    JOIN incoming i ON a.tenant_id = $1 AND a.account_key = i.account_key
),
stored AS (
    INSERT INTO ingest.accounts AS a (
        account_id, tenant_id, account_key, {", ".join(_UPDATABLE)}
    )
    SELECT gen_random_uuid(), $1, i.account_key,
        {", ".join(_inserted_value(name) for name in _UPDATABLE)}
    FROM incoming i
    ORDER BY i.account_key
    ON CONFLICT (tenant_id, lower(account_key)) DO UPDATE SET
        {", ".join(f"{name} = EXCLUDED.{name}" for name in _UPDATABLE)},
        updated_at = now()
    WHERE ({_compared("a")}) IS DISTINCT FROM ({_compared("EXCLUDED")})
    RETURNING a.account_id, a.account_key, (a.xmax = 0) AS created,
        {", ".join("a." + name for name in _EVENT_FIELDS)},
        ST_Y(a.location::geometry) AS lat, ST_X(a.location::geometry) AS lon,
        CASE WHEN a.xmax <> 0 THEN
            jsonb_build_object({_history_values("a")}) END AS fields
),
history AS (
    INSERT INTO ingest.account_history (tenant_id, account_id, upload_id, changes)
    SELECT $1, stored.account_id, $3, (
        SELECT jsonb_object_agg(
            new.key, jsonb_build_object('old', before.value, 'new', new.value)
        )
        FROM jsonb_each(stored.fields) new
        JOIN jsonb_each(old.fields) before ON before.key = new.key
        WHERE before.value IS DISTINCT FROM new.value
    )
    FROM stored JOIN old ON old.account_key = stored.account_key
    WHERE NOT stored.created
),
events AS (
    INSERT INTO ingest.outbox (
        event_id, topic, key, event_type, source, subject, tenant_id,
        event_time, data
    )
    SELECT gen_random_uuid(), $4, stored.account_id::text, $5, $6,
        stored.account_id::text, $1, now(), {_EVENT_DATA}
    FROM stored
)
SELECT count(*) FILTER (WHERE created) AS created, count(*) AS stored FROM stored
"""


@dataclass(frozen=True)
class StoreCounts:
    created: int
    updated: int
    unchanged: int


async def _driver(session: AsyncSession) -> Any:
    connection = await session.connection()
    return (await connection.get_raw_connection()).driver_connection


async def create_staging(session: AsyncSession) -> None:
    """Create the transaction's staging table, which the commit drops."""
    driver = await _driver(session)
    columns = ", ".join(f"{name} {kind}" for name, kind in _STAGING_COLUMNS)
    await driver.execute(
        f"DROP TABLE IF EXISTS pg_temp.{_STAGING_TABLE}; "
        f"CREATE TEMP TABLE {_STAGING_TABLE} ({columns}) ON COMMIT DROP"
    )


async def stage_accounts(
    session: AsyncSession,
    rows: Sequence[ParsedRow],
    placements: dict[str, Placement],
) -> None:
    """Copy rows with an account into the staging table, by COPY.

    Keys must be unique across everything staged in the transaction.
    """
    if not rows:
        return
    driver = await _driver(session)
    await driver.copy_records_to_table(
        _STAGING_TABLE,
        columns=[name for name, _ in _STAGING_COLUMNS],
        records=(
            _staging_record(
                row.row_number,
                account,
                placements.get(account.account_key, UNPLACED),
            )
            for row in rows
            if (account := row.account) is not None
        ),
    )


async def staged_keys(session: AsyncSession, row_numbers: list[int]) -> dict[int, str]:
    """Return the account key staged from each of the given rows of the file."""
    if not row_numbers:
        return {}
    driver = await _driver(session)
    records = await driver.fetch(
        f"SELECT row_number, account_key FROM pg_temp.{_STAGING_TABLE} "
        "WHERE row_number = ANY($1::integer[])",
        row_numbers,
    )
    return {record["row_number"]: record["account_key"] for record in records}


async def unstage_folded_repeats(
    session: AsyncSession,
) -> list[tuple[int, str, int, str]]:
    """Remove staged rows whose key the database lowers to an earlier row's.

    Return (row, key, first row, first row's key) for each row removed.
    """
    driver = await _driver(session)
    records = await driver.fetch(
        f"""
        WITH ranked AS (
            SELECT row_number, account_key,
                first_value(row_number) OVER folded AS first_row,
                first_value(account_key) OVER folded AS first_key
            FROM pg_temp.{_STAGING_TABLE}
            WINDOW folded AS (PARTITION BY lower(account_key) ORDER BY row_number)
        )
        DELETE FROM pg_temp.{_STAGING_TABLE} s
        USING ranked r
        WHERE s.row_number = r.row_number AND r.row_number <> r.first_row
        RETURNING s.row_number, s.account_key, r.first_row, r.first_key
        """
    )
    return sorted(
        (
            record["row_number"],
            record["account_key"],
            record["first_row"],
            record["first_key"],
        )
        for record in records
    )


async def store_staged(
    session: AsyncSession,
    *,
    tenant_id: uuid.UUID,
    upload_id: uuid.UUID,
    currency: str,
    staged: int,
    event_topic: str,
    event_source: str,
    progress: Callable[[int], None] | None = None,
) -> StoreCounts:
    """Insert or update the staged accounts by (tenant, key), with their events.

    One statement stores every staged row: accounts whose values the file
    does not change keep their row and get no event. `staged` is the number
    of rows staged; `progress` gets it once the statement has run.
    """
    if not staged:
        return StoreCounts(0, 0, 0)
    driver = await _driver(session)
    # The uploads of one tenant store one at a time. The statement below
    # decides what to keep from the accounts as its snapshot shows them, so
    # an upload storing beside another could miss accounts the other has
    # not committed: a balance-only file would then clear their addresses.
    # Keys are unique in lower case but sorted as spelt, so two files
    # spelling the same new keys in opposite case would also lock them in
    # opposite orders and deadlock. The lock is held to the commit, and the
    # statement's snapshot is taken after the lock is granted.
    await driver.execute(
        "SELECT pg_advisory_xact_lock(hashtextextended($1, 0))",
        f"ingest.accounts:{tenant_id}",
    )
    # A temporary table has no statistics until analysed, so the planner
    # would guess its size. JIT compiling the statement took longer than
    # it saved (1.4 s of 11 s for 200,000 rows), and the key-order sort
    # fits in memory with a larger work_mem.
    await driver.execute(
        f"ANALYZE pg_temp.{_STAGING_TABLE}; "
        "SET LOCAL jit = off; SET LOCAL work_mem = '256MB'"
    )
    # Rows are written in key order, a stable order for their row locks.
    counts = await driver.fetchrow(
        _UPSERT,
        tenant_id,
        currency,
        upload_id,
        event_topic,
        AccountUpserted.event_type,
        event_source,
    )
    if progress is not None:
        progress(staged)
    return StoreCounts(
        created=counts["created"],
        updated=counts["stored"] - counts["created"],
        unchanged=staged - counts["stored"],
    )


def _staging_record(
    row_number: int, row: AccountRow, placement: Placement
) -> tuple[Any, ...]:
    result = placement.result
    return (
        row_number,
        row.account_key,
        row.debtor_name,
        row.balance_overdue,
        row.days_past_due,
        row.street,
        row.exterior_number,
        row.interior_number,
        row.colonia,
        row.municipality,
        row.state,
        row.postal_code,
        row.cross_streets,
        row.address_references,
        row.credit_number,
        row.last_payment_date,
        row.birth_date,
        row.phone,
        result.lat if result else None,
        result.lon if result else None,
        result.precision.value if result else None,
        result.source.value if result else None,
        placement.status,
        placement.time_zone,
        json.dumps(row.extra) if row.extra else "{}",
        _sorted_fields(frozenset(row.kept_fields)),
    )


@functools.lru_cache(maxsize=1024)
def _sorted_fields(fields: frozenset[str]) -> list[str]:
    # Most rows of a file keep the same fields, so the sorted list is shared.
    return sorted(fields)


async def insert_row_issues(
    session: AsyncSession,
    *,
    tenant_id: uuid.UUID,
    upload_id: uuid.UUID,
    issues: list[tuple[int, RowIssue]],
) -> None:
    if not issues:
        return
    await session.execute(
        insert(UploadError),
        [
            {
                "upload_id": upload_id,
                "tenant_id": tenant_id,
                "row_number": row_number,
                "column": issue.column,
                "value": issue.value,
                "message": issue.message,
                "severity": issue.severity,
            }
            for row_number, issue in issues
        ],
    )


async def finish_upload(
    session: AsyncSession, upload_id: uuid.UUID, **values: Any
) -> None:
    await session.execute(
        update(Upload)
        .where(Upload.upload_id == upload_id)
        .values(status="completed", finished_at=datetime.now(UTC), **values)
    )


async def get_upload(
    session: AsyncSession, *, tenant_id: uuid.UUID, upload_id: uuid.UUID
) -> Upload | None:
    return await session.scalar(
        select(Upload).where(
            Upload.upload_id == upload_id, Upload.tenant_id == tenant_id
        )
    )


async def require_upload(
    session: AsyncSession, *, tenant_id: uuid.UUID, upload_id: uuid.UUID
) -> Upload:
    """Return the tenant's upload, or raise NotFoundError."""
    upload = await get_upload(session, tenant_id=tenant_id, upload_id=upload_id)
    if upload is None:
        raise NotFoundError(f"upload {upload_id} not found")
    return upload


async def list_row_issues(
    session: AsyncSession,
    *,
    tenant_id: uuid.UUID,
    upload_id: uuid.UUID,
    limit: int | None = None,
    after: tuple[int, int] | None = None,
) -> list[UploadError]:
    """Return the upload's issues in row order, `limit` of them after `after`.

    `after` is the (row number, id) of the last issue of the previous page.
    """
    query = (
        select(UploadError)
        .where(UploadError.upload_id == upload_id, UploadError.tenant_id == tenant_id)
        .order_by(UploadError.row_number, UploadError.id)
        .limit(limit)
    )
    if after is not None:
        query = query.where(
            tuple_(UploadError.row_number, UploadError.id) > tuple_(*after)
        )
    return list(await session.scalars(query))


async def count_row_issues(
    session: AsyncSession, *, tenant_id: uuid.UUID, upload_id: uuid.UUID
) -> int:
    count = await session.scalar(
        select(func.count())
        .select_from(UploadError)
        .where(UploadError.upload_id == upload_id, UploadError.tenant_id == tenant_id)
    )
    return count or 0


async def tenant_currency(session: AsyncSession, tenant_id: uuid.UUID) -> str:
    currency = await session.scalar(
        select(common.tenants.c.currency).where(common.tenants.c.tenant_id == tenant_id)
    )
    return currency or "MXN"
