"""Time campaign exports and measure their memory peak (not a test).

Creates a database of its own on the server of DATABASE_URL, migrates the
reporting schema, seeds campaigns of each size and exports each one twice:
once timed, once under tracemalloc for the peak of Python allocations.
The bytes go nowhere; only their count is kept.

    uv run --group bench python -m bench.export [ROWS ...]
"""

import asyncio
import logging
import os
import resource
import sys
import time
import tracemalloc
import uuid
from zoneinfo import ZoneInfo

import asyncpg
import structlog

from bench.export.seed import seed_campaign
from reporting.export_rows import RowContext
from reporting.export_service import ExportPlan, export_bytes, new_writer
from shared.db import create_engine
from shared.migrations import upgrade

DEFAULT_ROWS = (20_000, 200_000)
BATCH_ROWS = 1000
CONTEXT = RowContext(ZoneInfo("America/Mexico_City"), "https://visitas.example")


async def export_size(engine: object, plan: ExportPlan) -> int:
    size = 0
    async for chunk in export_bytes(
        engine,  # type: ignore[arg-type]
        plan,
        new_writer(plan.file_format),
        context=CONTEXT,
        batch_rows=BATCH_ROWS,
    ):
        size += len(chunk)
    return size


async def measure(engine: object, plan: ExportPlan) -> tuple[float, int, int]:
    """Return seconds and bytes of a plain run, and the traced peak of another."""
    started = time.perf_counter()
    size = await export_size(engine, plan)
    seconds = time.perf_counter() - started
    tracemalloc.start()
    try:
        await export_size(engine, plan)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return seconds, size, peak


async def run(admin_url: str, sizes: list[int]) -> None:
    name = f"campo_bench_export_{uuid.uuid4().hex[:8]}"
    plain = admin_url.replace("postgresql+asyncpg://", "postgresql://", 1)
    admin = await asyncpg.connect(plain)
    await admin.execute(f'CREATE DATABASE "{name}"')
    url = f"{admin_url.rpartition('/')[0]}/{name}"
    try:
        await asyncio.to_thread(upgrade, url, "reporting")
        engine = create_engine(url)
        tenant_id = uuid.uuid4()
        print("rows\tformat\tseconds\tMB out\tpeak MiB (tracemalloc)")
        for rows in sizes:
            started = time.perf_counter()
            campaign_id = await seed_campaign(engine, tenant_id=tenant_id, rows=rows)
            print(f"# seeded {rows} visits in {time.perf_counter() - started:.1f} s")
            for file_format in ("csv", "xlsx"):
                plan = ExportPlan(tenant_id, campaign_id, "Carga", rows, file_format)
                seconds, size, peak = await measure(engine, plan)
                print(
                    f"{rows}\t{file_format}\t{seconds:.1f}\t{size / 1e6:.1f}"
                    f"\t{peak / 2**20:.2f}",
                    flush=True,
                )
        await engine.dispose()
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()
    max_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"# process max RSS {max_rss:.0f} MiB")


def main() -> None:
    # The export's own log line per run would interleave with the table.
    structlog.configure(
        wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING)
    )
    sizes = [int(arg) for arg in sys.argv[1:]] or list(DEFAULT_ROWS)
    asyncio.run(run(os.environ["DATABASE_URL"], sizes))


if __name__ == "__main__":
    main()
