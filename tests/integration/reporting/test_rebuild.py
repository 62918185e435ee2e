"""Dropped read models rebuilt by replaying the topics give the live figures back."""

import asyncio
import uuid
from collections.abc import AsyncIterator

import httpx
import pytest
from sqlalchemy import func, select, text

from ingest.tenants import CreatedTenant
from reporting import cli, rebuild
from reporting.export_models import VisitDetail
from reporting.models import StreamEvent, VisitFact
from reporting.rebuild import truncate_read_models
from reporting.settings import ReportingSettings
from shared.db import create_engine, create_sessionmaker
from shared.events.payloads import AppealOutcome, PromiseKept, PromisePartlyKept
from shared.kafka import delete_topics
from tests.fixtures.events import publish
from tests.integration.reporting.figure_flows import ZonedFlow, all_figures
from tests.integration.reporting.helpers import auth, wait_consumed


@pytest.fixture(autouse=True)
async def _own_topics(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[None]:
    """Give each rebuild test topics of its own, deleted after it.

    A rebuild replays every topic from the start; on the topics the whole
    suite shares it would replay every other test's events too.
    """
    prefix = f"rebuild-{uuid.uuid4().hex[:8]}."
    monkeypatch.setenv("KAFKA_TOPIC_PREFIX", prefix)
    yield
    await delete_topics(ReportingSettings().kafka_bootstrap_servers, prefix)


async def _count(model: type, tenant_id: uuid.UUID) -> int:
    engine = create_engine(ReportingSettings().database_url, pool_size=1)
    try:
        async with create_sessionmaker(engine)() as session:
            total = await session.scalar(
                select(func.count())
                .select_from(model)
                .where(model.tenant_id == tenant_id)
            )
    finally:
        await engine.dispose()
    return int(total or 0)


async def _details(tenant_id: uuid.UUID) -> list[dict[str, object]]:
    """Read the tenant's export details, one dict a visit, in visit order."""
    engine = create_engine(ReportingSettings().database_url, pool_size=1)
    columns = VisitDetail.__table__.columns
    try:
        async with create_sessionmaker(engine)() as session:
            rows = await session.execute(
                select(*columns)
                .where(VisitDetail.tenant_id == tenant_id)
                .order_by(VisitDetail.visit_id)
            )
            return [dict(row._mapping) for row in rows]
    finally:
        await engine.dispose()


async def _truncate() -> None:
    engine = create_engine(ReportingSettings().database_url, pool_size=1)
    try:
        async with create_sessionmaker(engine)() as session, session.begin():
            await truncate_read_models(session)
    finally:
        await engine.dispose()


def flows_with_reviews(tenant_id: uuid.UUID) -> tuple[list[ZonedFlow], list]:
    first, second = ZonedFlow(tenant_id), ZonedFlow(tenant_id)
    events = [
        *first.all_events(),
        first.rejected(1, 20000),
        first.appeal_resolved(1, AppealOutcome.OVERTURNED, 30000),
        first.promise(PromisePartlyKept, "700.00", 8 * 86400),
        *second.all_events(),
        second.rejected(0, 20000),
        second.promise(PromiseKept, "1500.00", 9 * 86400),
    ]
    return [first, second], events


class TestRebuildByReplay:
    async def test_rebuilt_figures_equal_live(
        self, reporting: httpx.AsyncClient, tenant: CreatedTenant
    ) -> None:
        flows, events = flows_with_reviews(tenant.tenant_id)
        # Events keep flowing in two bursts while the live consumer applies them.
        half = len(events) // 2
        await asyncio.gather(publish(events[:half]), publish(events[half:]))
        await wait_consumed()
        live = [await all_figures(reporting, tenant, flow) for flow in flows]
        streamed = await _count(StreamEvent, tenant.tenant_id)
        details = await _details(tenant.tenant_id)
        assert live[0]["summary"]["visits_completed"] == 3
        assert live[1]["summary"]["visits_rejected"] == 1

        await _truncate()
        emptied = await reporting.get(
            f"/campaigns/{flows[0].campaign_id}/summary", headers=auth(tenant)
        )
        assert emptied.status_code == 404
        assert await _details(tenant.tenant_id) == []
        await asyncio.to_thread(cli.main, ["rebuild"])

        rebuilt = [await all_figures(reporting, tenant, flow) for flow in flows]
        assert rebuilt == live
        assert await _count(VisitFact, tenant.tenant_id) == 10
        # The export details come back too, column for column.
        assert len(details) == 10
        assert any(row["flagged"] for row in details)
        assert any(row["check_in_verified"] for row in details)
        assert await _details(tenant.tenant_id) == details
        # The replay feeds the read models only, never the live stream.
        assert await _count(StreamEvent, tenant.tenant_id) == streamed

    async def test_live_consumer_keeps_applying_after_rebuild(
        self, reporting: httpx.AsyncClient, tenant: CreatedTenant
    ) -> None:
        flow = ZonedFlow(tenant.tenant_id)
        await publish([*flow.launch(), *flow.requests()])
        await wait_consumed()
        await asyncio.to_thread(cli.main, ["rebuild"])

        await publish(flow.visit_events())
        await wait_consumed()

        figures = await all_figures(reporting, tenant, flow)
        assert figures["summary"]["visits_requested"] == 5
        assert figures["summary"]["visits_completed"] == 3


class TestRebuildWaitsBounded:
    async def test_session_idle_in_transaction_is_named(
        self, service_env: object, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setattr(rebuild, "LOCK_WAIT", "1s")
        settings = ReportingSettings()
        engine = create_engine(settings.database_url, pool_size=1)
        try:
            async with engine.connect() as holder:
                # A reader left open: TRUNCATE must wait for its lock.
                await holder.execute(text("SELECT 1 FROM reporting.visit_facts"))
                pid = (await holder.execute(text("SELECT pg_backend_pid()"))).scalar()
                with pytest.raises(rebuild.ReadModelsBusyError) as raised:
                    await rebuild.rebuild_read_models(settings)
                await holder.rollback()
        finally:
            await engine.dispose()
        assert f"pid {pid} (idle in transaction" in str(raised.value)
        assert "pg_terminate_backend" in str(raised.value)


class TestRebuildAudited:
    async def test_cli_rebuild_leaves_operator_record(
        self, reporting: httpx.AsyncClient, tenant: CreatedTenant
    ) -> None:
        flow = ZonedFlow(tenant.tenant_id)
        await publish([*flow.launch(), *flow.requests()])
        await wait_consumed()
        operator = f"ops-{uuid.uuid4().hex[:6]}"

        await asyncio.to_thread(cli.main, ["--operator", operator, "rebuild"])

        engine = create_engine(ReportingSettings().database_url, pool_size=1)
        try:
            async with engine.connect() as connection:
                records = (
                    (
                        await connection.execute(
                            text(
                                "SELECT data FROM reporting.outbox WHERE event_type ="
                                " 'campo.operator.command_run'"
                                " AND data->>'operator' = :operator"
                            ),
                            {"operator": operator},
                        )
                    )
                    .scalars()
                    .all()
                )
        finally:
            await engine.dispose()
        assert [record["command"] for record in records] == ["campo-reporting rebuild"]
        assert await _count(VisitFact, tenant.tenant_id) == 5
