"""Benchmark ingest's upload path against a plain COPY and against openpyxl.

    uv run --group bench python -m bench.ingest [--csv-rows N] [--xlsx-rows N]

Writes a CSV and an XLSX portfolio under `.local/bench/`, creates a fresh
database with ingest's schema and one tenant, then runs each case in its own
process. The cases are:

- a plain `COPY` of the CSV into an unindexed table;
- the same `COPY`, then the rows stored as accounts with their outbox
  events by SQL alone, in a database of its own: what the tables' indexes
  and the events cost with no parsing at all;
- the CSV through ingest's upload code into PostgreSQL, events in the outbox;
- the XLSX read by ingest's reader (python-calamine);
- the same XLSX read by openpyxl in read-only mode.

It prints seconds, rows per second, time per row for each stage, peak
memory, and the ratios the targets are stated in.
"""

import argparse
import asyncio
import json
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import asyncpg

from bench.ingest.cases import plain_dsn
from bench.ingest.generate import write_csv, write_xlsx
from shared.kafka import delete_topics

ROOT = Path(__file__).resolve().parents[2]
WORK_DIR = ROOT / ".local" / "bench"
TARGET_CSV_VS_COPY = 5.0
TARGET_XLSX_SPEEDUP = 5.0
TARGET_PEAK_MB = 600.0


def server_urls() -> tuple[str, str]:
    """Use DATABASE_URL and KAFKA_BOOTSTRAP_SERVERS, else the local servers."""
    if os.environ.get("DATABASE_URL") and os.environ.get("KAFKA_BOOTSTRAP_SERVERS"):
        return os.environ["DATABASE_URL"], os.environ["KAFKA_BOOTSTRAP_SERVERS"]
    script = str(ROOT / "deploy/local/infra.sh")
    subprocess.run(["bash", script, "up"], check=True)
    output = subprocess.run(
        ["bash", script, "env"], check=True, capture_output=True, text=True
    ).stdout
    values = {}
    for line in output.splitlines():
        name, _, value = line.removeprefix("export ").partition("=")
        values[name.strip()] = value.strip().strip("'\"")
    return values["DATABASE_URL"], values["KAFKA_BOOTSTRAP_SERVERS"]


async def create_database(admin_url: str, name: str) -> None:
    connection = await asyncpg.connect(plain_dsn(admin_url))
    try:
        await connection.execute(f'CREATE DATABASE "{name}"')
    finally:
        await connection.close()
    database = await asyncpg.connect(plain_dsn(with_database(admin_url, name)))
    try:
        await database.execute("CREATE EXTENSION IF NOT EXISTS postgis")
    finally:
        await database.close()


async def drop_database(admin_url: str, name: str) -> None:
    connection = await asyncpg.connect(plain_dsn(admin_url))
    try:
        await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await connection.close()


def with_database(url: str, name: str) -> str:
    base, _, _ = url.rpartition("/")
    return f"{base}/{name}"


def prepare_database(url: str) -> str:
    """Migrate ingest's schema into the database at `url` and add a tenant.

    Return the tenant's id.
    """
    from shared.migrations import upgrade

    upgrade(url, "ingest")
    return str(asyncio.run(create_bench_tenant(url)))


async def create_bench_tenant(url: str) -> uuid.UUID:
    from ingest.settings import IngestSettings
    from ingest.tenants import create_tenant
    from shared.db import create_engine, create_sessionmaker

    settings = IngestSettings(database_url=url)
    engine = create_engine(settings.database_url, pool_size=1)
    try:
        async with create_sessionmaker(engine)() as session, session.begin():
            created = await create_tenant(
                session,
                name="Benchmark",
                country="MX",
                currency="MXN",
                settings=settings,
            )
    finally:
        await engine.dispose()
    return created.tenant_id


def run_case(
    case: str, path: Path, env: dict[str, str] | None = None
) -> dict[str, Any]:
    print(f"==> {case}: {path.name}", flush=True)
    output = subprocess.run(
        [sys.executable, "-m", "bench.ingest.cases", case, str(path)],
        check=True,
        stdout=subprocess.PIPE,
        text=True,
        cwd=ROOT,
        env={**os.environ, **(env or {})},
    ).stdout
    return dict(json.loads(output.strip().splitlines()[-1]))


def ensure_files(csv_rows: int, xlsx_rows: int) -> tuple[Path, Path]:
    WORK_DIR.mkdir(parents=True, exist_ok=True)
    csv_path = WORK_DIR / f"portfolio-{csv_rows}.csv"
    xlsx_path = WORK_DIR / f"portfolio-{xlsx_rows}.xlsx"
    if not csv_path.exists():
        print(f"==> writing {csv_path.name}", flush=True)
        write_csv(csv_path, csv_rows)
    if not xlsx_path.exists():
        print(f"==> writing {xlsx_path.name}", flush=True)
        write_xlsx(xlsx_path, xlsx_rows)
    return csv_path, xlsx_path


def report(results: dict[str, dict[str, Any]], csv_path: Path) -> None:
    copy, floor, service = results["copy"], results["floor"], results["service"]
    calamine, openpyxl = results["calamine"], results["openpyxl"]
    rows = service["rows"]
    print()
    print(f"CSV: {csv_path.stat().st_size / 1e6:.0f} MB, {copy['rows']} rows")
    print(f"  {'case':<32}{'seconds':>9}{'rows/s':>10}{'peak MB':>9}")
    for name, result in (
        ("plain COPY", copy),
        ("COPY, accounts and events in SQL", floor),
        ("ingest upload path", service),
    ):
        rate = result["rows"] / result["seconds"]
        print(
            f"  {name:<32}{result['seconds']:>9.1f}{rate:>10.0f}"
            f"{result['peak_rss_mb']:>9.0f}"
        )

    print("  stages of the SQL-only store (seconds):")
    for stage, seconds in floor["stages"].items():
        print(f"    {stage:<30}{seconds:>9.1f}")
    print(f"  stages of the upload path ({rows} valid rows, µs per row):")
    for stage, seconds in service["stages"].items():
        print(f"    {stage:<30}{seconds * 1e6 / max(rows, 1):>9.1f}")
    print(f"  outbox rows written           {service['outbox_rows']}")
    print(
        f"  peak MB when each stage ended (the file itself is "
        f"{service['file_mb']:.0f} MB):"
    )
    for stage, peak_mb in service["stage_peaks_mb"].items():
        print(f"    {stage:<30}{peak_mb:>9.0f}")

    print(f"XLSX: {calamine['rows']} rows")
    for name, result in (
        ("ingest reader (calamine)", calamine),
        ("openpyxl", openpyxl),
    ):
        print(
            f"  {name:<32}{result['seconds']:>9.1f}"
            f"{result['rows'] / result['seconds']:>10.0f}{result['peak_rss_mb']:>9.0f}"
        )
    csv_ratio = service["seconds"] / copy["seconds"]
    xlsx_ratio = openpyxl["seconds"] / calamine["seconds"]
    peak = max(service["peak_rss_mb"], calamine["peak_rss_mb"])
    print("Ratios:")
    floor_ratio = floor["seconds"] / copy["seconds"]
    print(f"  {'SQL-only store / COPY':<24}{floor_ratio:>9.1f}x  (no target)")
    upload_vs_floor = service["seconds"] / floor["seconds"]
    print(f"  {'upload path / SQL-only':<24}{upload_vs_floor:>9.1f}x  (no target)")
    print_ratio(
        "upload path / COPY",
        f"{csv_ratio:6.1f}x",
        f"at most {TARGET_CSV_VS_COPY:.0f}x",
        csv_ratio <= TARGET_CSV_VS_COPY,
    )
    print_ratio(
        "openpyxl / calamine",
        f"{xlsx_ratio:6.1f}x",
        f"at least {TARGET_XLSX_SPEEDUP:.0f}x",
        xlsx_ratio >= TARGET_XLSX_SPEEDUP,
    )
    print_ratio(
        "peak memory",
        f"{peak:6.0f} MB",
        f"under {TARGET_PEAK_MB:.0f} MB",
        peak < TARGET_PEAK_MB,
    )


def print_ratio(name: str, figure: str, target: str, met: bool) -> None:
    verdict = "met" if met else "NOT met"
    print(f"  {name:<24}{figure:>10}  (target {target})  {verdict}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--csv-rows", type=int, default=1_000_000)
    parser.add_argument("--xlsx-rows", type=int, default=200_000)
    parser.add_argument("--keep-database", action="store_true")
    args = parser.parse_args()

    csv_path, xlsx_path = ensure_files(args.csv_rows, args.xlsx_rows)
    admin_url, kafka = server_urls()
    run_id = uuid.uuid4().hex[:8]
    database = f"campo_bench_{run_id}"
    topic_prefix = f"bench-{run_id}."
    # The floor case gets a database of its own, so the accounts it writes
    # do not enlarge the indexes the upload path writes to.
    floor_database = f"{database}_floor"
    asyncio.run(create_database(admin_url, database))
    asyncio.run(create_database(admin_url, floor_database))
    floor_url = with_database(admin_url, floor_database)
    os.environ.update(
        {
            "DATABASE_URL": with_database(admin_url, database),
            "KAFKA_BOOTSTRAP_SERVERS": kafka,
            "KAFKA_TOPIC_PREFIX": topic_prefix,
            "INGEST_MAX_UPLOAD_ROWS": str(max(args.csv_rows, args.xlsx_rows)),
            "INGEST_MAX_UPLOAD_BYTES": str(4 * 1024**3),
            "LOG_LEVEL": "WARNING",
        }
    )
    try:
        os.environ["BENCH_TENANT_ID"] = prepare_database(os.environ["DATABASE_URL"])
        floor_env = {
            "DATABASE_URL": floor_url,
            "BENCH_TENANT_ID": prepare_database(floor_url),
        }
        started = time.perf_counter()
        results = {
            "copy": run_case("copy", csv_path),
            "floor": run_case("floor", csv_path, floor_env),
            "service": run_case("service", csv_path),
            "calamine": run_case("calamine", xlsx_path),
            "openpyxl": run_case("openpyxl", xlsx_path),
        }
        print(f"==> cases ran in {time.perf_counter() - started:.0f} s")
    finally:
        if not args.keep_database:
            asyncio.run(drop_database(admin_url, database))
            asyncio.run(drop_database(admin_url, floor_database))
        asyncio.run(delete_topics(kafka, topic_prefix))
    report(results, csv_path)


if __name__ == "__main__":
    main()
