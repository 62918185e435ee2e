"""An export's read is bounded: a slow read is cancelled, a stalled one dropped."""

import asyncio
from collections.abc import AsyncIterator
from zoneinfo import ZoneInfo

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func

from bench.export.seed import seed_campaign
from ingest.tenants import CreatedTenant
from reporting import export_repository
from reporting.export_rows import RowContext
from reporting.export_service import ExportLimits, ExportPlan, export_bytes, new_writer
from shared.runtime import ServiceRuntime
from tests.integration.reporting.helpers import auth

CONTEXT = RowContext(zone=ZoneInfo("America/Mexico_City"), photo_base_url="")
# Each row takes this long to read, so the query outlasts a short limit.
ROW_SLEEP_SECONDS = 0.3


def slow_rows(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make the export's query sleep on every row it reads."""
    query = export_repository.export_rows_query

    def sleeping(*args: object):  # type: ignore[no-untyped-def]
        return query(*args).where(  # type: ignore[arg-type]
            func.pg_sleep(ROW_SLEEP_SECONDS).is_not(None)
        )

    monkeypatch.setattr(export_repository, "export_rows_query", sleeping)


def csv_chunks(
    runtime: ServiceRuntime, plan: ExportPlan, limits: ExportLimits
) -> AsyncIterator[bytes]:
    """Return the export's CSV chunks, one visit a fetch."""
    return export_bytes(
        runtime.engine,
        plan,
        new_writer("csv"),
        context=CONTEXT,
        batch_rows=1,
        limits=limits,
    )


async def read_all(
    runtime: ServiceRuntime, plan: ExportPlan, limits: ExportLimits
) -> bytes:
    return b"".join([chunk async for chunk in csv_chunks(runtime, plan, limits)])


@pytest.fixture
async def small_plan(reporting_app: FastAPI, tenant: CreatedTenant) -> ExportPlan:
    runtime: ServiceRuntime = reporting_app.state.runtime
    campaign_id = await seed_campaign(
        runtime.engine, tenant_id=tenant.tenant_id, rows=3
    )
    return ExportPlan(tenant.tenant_id, campaign_id, "Carga", 3, "csv")


class TestStatementTimeout:
    async def test_slow_read_cancelled_past_the_limit(
        self, reporting_app, small_plan, monkeypatch
    ) -> None:
        runtime: ServiceRuntime = reporting_app.state.runtime
        slow_rows(monkeypatch)

        with pytest.raises(Exception) as raised:
            await read_all(runtime, small_plan, ExportLimits(statement_seconds=0.1))

        assert "statement timeout" in str(raised.value)

    async def test_same_read_finishes_within_the_default(
        self, reporting_app, small_plan, monkeypatch
    ) -> None:
        runtime: ServiceRuntime = reporting_app.state.runtime
        slow_rows(monkeypatch)

        body = await read_all(runtime, small_plan, ExportLimits())

        assert body.count(b"\r\n") == 1 + small_plan.visit_count

    async def test_route_uses_the_setting(
        self,
        reporting_app,
        reporting: httpx.AsyncClient,
        tenant,
        small_plan,
        monkeypatch,
    ) -> None:
        runtime: ServiceRuntime = reporting_app.state.runtime
        monkeypatch.setattr(runtime.settings, "export_statement_timeout_seconds", 0.1)
        slow_rows(monkeypatch)

        with pytest.raises(Exception) as raised:
            await reporting.get(
                f"/campaigns/{small_plan.campaign_id}/export.csv", headers=auth(tenant)
            )

        assert "statement timeout" in str(raised.value)


async def stalled_export(
    runtime: ServiceRuntime, plan: ExportPlan, limits: ExportLimits
) -> bytes:
    """Read the header and one visit, stop reading for a second, then go on."""
    chunks = csv_chunks(runtime, plan, limits)
    # After the first visit, the export's transaction is open and waiting.
    read = [await anext(chunks), await anext(chunks)]
    await asyncio.sleep(1.0)
    read += [chunk async for chunk in chunks]
    return b"".join(read)


class TestIdleTimeout:
    async def test_stalled_client_loses_the_connection(
        self, reporting_app, small_plan
    ) -> None:
        runtime: ServiceRuntime = reporting_app.state.runtime

        with pytest.raises(Exception) as raised:
            await stalled_export(runtime, small_plan, ExportLimits(idle_seconds=0.2))

        assert "connection is closed" in str(raised.value)

    async def test_pause_within_the_limit_finishes(
        self, reporting_app, small_plan
    ) -> None:
        runtime: ServiceRuntime = reporting_app.state.runtime

        body = await stalled_export(runtime, small_plan, ExportLimits())

        assert body.count(b"\r\n") == 1 + small_plan.visit_count
