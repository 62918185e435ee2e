"""One benchmark case per process, so each peak-memory figure is its own.

Run as `python -m bench.ingest.cases CASE FILE`; the database and tenant come
from the environment (DATABASE_URL, BENCH_TENANT_ID). Prints one JSON line:
seconds, peak resident memory and, for the service case, seconds and peak
memory per stage.
"""

import asyncio
import json
import os
import resource
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import asyncpg
from sqlalchemy import func, select

from bench.ingest.generate import HEADERS

Timings = dict[str, float]


def peak_rss_mb() -> float:
    # ru_maxrss is in kilobytes on Linux.
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def plain_dsn(url: str) -> str:
    return url.replace("postgresql+asyncpg://", "postgresql://", 1)


async def copy_case(path: Path) -> dict[str, Any]:
    """COPY the CSV into an unindexed table of text columns: the floor."""
    connection = await asyncpg.connect(plain_dsn(os.environ["DATABASE_URL"]))
    try:
        columns = ", ".join(f"c{index} text" for index in range(len(HEADERS)))
        await connection.execute(f"CREATE TABLE bench_copy_{os.getpid()} ({columns})")
        started = time.perf_counter()
        result = await connection.copy_to_table(
            f"bench_copy_{os.getpid()}", source=str(path), format="csv", header=True
        )
        seconds = time.perf_counter() - started
    finally:
        await connection.close()
    return {"seconds": seconds, "rows": int(result.split()[-1])}


# The database's share of an upload: the generated values are already in
# their stored form, so these write each account and its event with no
# parsing, normalising or geocoding at all. The accounts and the events are
# two statements, so that each one's share is timed.
_FLOOR_ACCOUNTS_SQL = """
INSERT INTO ingest.accounts (
    account_id, tenant_id, account_key, debtor_name, balance_overdue,
    currency, days_past_due, street, exterior_number, interior_number,
    colonia, postal_code, municipality, state, phone, location,
    location_precision, location_source, location_status, time_zone, extra
)
SELECT gen_random_uuid(), $1, c0, c1, c2::numeric, 'MXN', c3::integer,
    c4, c5, nullif(c6, ''), c7, c8, c9, c10, '+52' || c11,
    ST_SetSRID(ST_MakePoint(c13::float8, c12::float8), 4326)::geography,
    'rooftop', 'file', 'placed', 'America/Mexico_City', '{}'::jsonb
FROM BENCH_TABLE
ORDER BY c0
"""
_FLOOR_EVENTS_SQL = """
INSERT INTO ingest.outbox (
    event_id, topic, key, event_type, source, subject, tenant_id, event_time, data
)
SELECT gen_random_uuid(), 'bench.accounts', account_id::text,
    'campo.account.upserted', '/bench', account_id::text, tenant_id, now(),
    to_jsonb(stored) - 'location'
FROM ingest.accounts stored
WHERE tenant_id = $1
"""


async def floor_case(path: Path) -> dict[str, Any]:
    """COPY the CSV, then store its rows as accounts with events, in SQL alone.

    It estimates the least an upload path costs on this database when it
    keeps the accounts' indexes and writes one outbox event per account.
    """
    connection = await asyncpg.connect(plain_dsn(os.environ["DATABASE_URL"]))
    table = f"bench_floor_{os.getpid()}"
    tenant_id = uuid.UUID(os.environ["BENCH_TENANT_ID"])
    try:
        columns = ", ".join(f"c{index} text" for index in range(len(HEADERS)))
        await connection.execute(f"CREATE TABLE {table} ({columns})")
        started = time.perf_counter()
        async with connection.transaction():
            await connection.execute("SET LOCAL jit = off")
            await connection.copy_to_table(
                table, source=str(path), format="csv", header=True
            )
            copied = time.perf_counter()
            result = await connection.execute(
                _FLOOR_ACCOUNTS_SQL.replace("BENCH_TABLE", table), tenant_id
            )
            inserted = time.perf_counter()
            await connection.execute(_FLOOR_EVENTS_SQL, tenant_id)
        finished = time.perf_counter()
    finally:
        await connection.close()
    return {
        "seconds": finished - started,
        "rows": int(result.split()[-1]),
        "stages": {
            "copy": copied - started,
            "accounts": inserted - copied,
            "events": finished - inserted,
        },
    }


def timed(
    timings: Timings, peaks: Timings, stage: str, function: Callable[..., Any]
) -> Any:
    """Wrap a sync or async function so its time adds up under `stage`.

    `peaks[stage]` is the process's peak memory when the stage last ended.
    """

    def add(started: float) -> None:
        timings[stage] = timings.get(stage, 0.0) + time.perf_counter() - started
        peaks[stage] = peak_rss_mb()

    if asyncio.iscoroutinefunction(function):

        async def async_wrapper(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return await function(*args, **kwargs)
            finally:
                add(started)

        return async_wrapper

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        try:
            return function(*args, **kwargs)
        finally:
            add(started)

    return wrapper


def timed_rows(timings: Timings, stage: str, read_rows: Callable[..., Any]) -> Any:
    """Wrap `read_rows` so the time spent reading its rows adds up under `stage`.

    The rows are read while they are parsed, so the time of each step of the
    row iterator is measured on its own.
    """

    def rows(iterator: Iterator[list[object]]) -> Iterator[list[object]]:
        total = 0.0
        try:
            while True:
                started = time.perf_counter()
                try:
                    row = next(iterator)
                except StopIteration:
                    return
                finally:
                    total += time.perf_counter() - started
                yield row
        finally:
            timings[stage] = timings.get(stage, 0.0) + total

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        sheet = read_rows(*args, **kwargs)
        timings[stage] = timings.get(stage, 0.0) + time.perf_counter() - started
        sheet.rows = rows(sheet.rows)
        return sheet

    return wrapper


async def service_case(path: Path) -> dict[str, Any]:
    """Run the file through ingest's own upload code, outbox included.

    The stage timers wrap the service's functions in place; the code path is
    the one `POST /uploads` runs, minus HTTP. No relay runs, so the events
    stay in the outbox, where the figure counts them.
    """
    from ingest.geocoding.service import AccountLocator, build_locator
    from ingest.models import common
    from ingest.settings import IngestSettings
    from ingest.uploads import parsing, repository, service
    from shared.runtime import ServiceRuntime, _start_runtime

    timings: Timings = {}
    peaks: Timings = {}
    parsing.read_rows = timed_rows(timings, "read", parsing.read_rows)
    # The header is found when the file is opened; the data rows are parsed
    # a chunk at a time as the upload stores them.
    service.open_file = timed(timings, peaks, "parse", service.open_file)
    service._next_chunk = timed(timings, peaks, "parse", service._next_chunk)
    repository.stage_accounts = timed(
        timings, peaks, "stage", repository.stage_accounts
    )
    repository.store_staged = timed(timings, peaks, "store", repository.store_staged)
    ServiceRuntime.emit = timed(timings, peaks, "outbox", ServiceRuntime.emit)  # type: ignore[method-assign]
    AccountLocator.locate = timed(timings, peaks, "place", AccountLocator.locate)  # type: ignore[method-assign]
    ServiceRuntime.emit_many = timed(  # type: ignore[method-assign]
        timings, peaks, "outbox", ServiceRuntime.emit_many
    )

    settings = IngestSettings()
    content = path.read_bytes()  # noqa: ASYNC240 - read once, before the clock starts
    runtime = await _start_runtime("ingest", settings, common)
    try:
        started = time.perf_counter()
        async with runtime.sessionmaker() as session:
            upload = await service.process_upload(
                runtime,
                session,
                tenant_id=uuid.UUID(os.environ["BENCH_TENANT_ID"]),
                filename=path.name,
                content=content,
                max_rows=settings.max_upload_rows,
                locator=build_locator(settings, runtime.sessionmaker),
            )
        seconds = time.perf_counter() - started
        async with runtime.engine.connect() as connection:
            outbox_rows = await connection.scalar(
                select(func.count()).select_from(common.outbox)
            )
    finally:
        await runtime.producer.stop()
        await runtime.engine.dispose()
    # "parse" contains "read"; report normalising and validating apart.
    stages = {
        "read": timings.get("read", 0.0),
        "normalise and validate": timings.get("parse", 0.0) - timings.get("read", 0.0),
        "place (geocoding)": timings.get("place", 0.0),
        "stage (COPY)": timings.get("stage", 0.0),
        # The store statement writes the accounts' events to the outbox too;
        # "outbox events" counts only events added one by one.
        "store accounts and events": timings.get("store", 0.0),
        "outbox events": timings.get("outbox", 0.0),
    }
    stages["other (issues, commit)"] = seconds - sum(stages.values())
    # Peak memory of the process when each stage last ended. The chunks
    # repeat read, place and stage, so those three end together.
    stage_peaks = {
        "read, normalise and validate": peaks.get("parse", 0.0),
        "place (geocoding)": peaks.get("place", 0.0),
        "stage (COPY)": peaks.get("stage", 0.0),
        "store accounts and events": peaks.get("store", 0.0),
        "end of the upload": peak_rss_mb(),
    }
    return {
        "seconds": seconds,
        "rows": upload.rows_valid,
        "rows_invalid": upload.rows_invalid,
        "outbox_rows": outbox_rows,
        "stages": stages,
        "stage_peaks_mb": stage_peaks,
        "file_mb": len(content) / 1024**2,
    }


def calamine_case(path: Path) -> dict[str, Any]:
    """Read the XLSX with ingest's own reader (python-calamine)."""
    from ingest.uploads.parsing import read_rows

    content = path.read_bytes()
    started = time.perf_counter()
    sheet = read_rows(content, "xlsx", max_rows=10_000_000)
    rows = list(sheet.rows)
    return {"seconds": time.perf_counter() - started, "rows": len(rows) - 1}


def openpyxl_case(path: Path) -> dict[str, Any]:
    """Read the same XLSX with openpyxl in read-only mode, values only."""
    import openpyxl

    started = time.perf_counter()
    workbook = openpyxl.load_workbook(path, read_only=True, data_only=True)
    rows = [list(row) for row in workbook.worksheets[0].iter_rows(values_only=True)]
    workbook.close()
    return {"seconds": time.perf_counter() - started, "rows": len(rows) - 1}


def main() -> None:
    case, path = sys.argv[1], Path(sys.argv[2])
    if case == "copy":
        result = asyncio.run(copy_case(path))
    elif case == "floor":
        result = asyncio.run(floor_case(path))
    elif case == "service":
        result = asyncio.run(service_case(path))
    elif case == "calamine":
        result = calamine_case(path)
    elif case == "openpyxl":
        result = openpyxl_case(path)
    else:
        raise SystemExit(
            f"unknown case {case!r}; use copy, floor, service, calamine or openpyxl"
        )
    result["peak_rss_mb"] = peak_rss_mb()
    print(json.dumps(result))


if __name__ == "__main__":
    main()
