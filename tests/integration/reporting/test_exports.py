"""Campaign exports: contents, formula injection, errors, memory and disconnects."""

import asyncio
import csv
import io
import threading
import time
import tracemalloc
import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import openpyxl
import pytest
from fastapi import FastAPI
from sqlalchemy import text

from bench.export.seed import seed_campaign
from ingest.tenants import CreatedTenant
from reporting import export_service
from reporting.export_rows import HEADERS, RowContext
from reporting.export_service import ExportPlan, export_bytes, new_writer
from reporting.export_slots import SLOTS_KEY, ExportSlots
from shared.db import create_engine
from shared.events import Payload
from shared.events.payloads import (
    ContactDataUpdated,
    ContactUpdate,
    PhoneKind,
    Relation,
    ReportedPhone,
    VisitCheckedIn,
    VisitCompleted,
    VisitRequested,
)
from shared.runtime import ServiceRuntime
from tests.fixtures.apps import eventually
from tests.fixtures.events import publish
from tests.integration.reporting.helpers import (
    CampaignFlow,
    auth,
    provision_tenant,
    serve_http,
    wait_consumed,
)

XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
HOSTILE_NAME = '=HYPERLINK("http://evil.example","Pagar")'
HOSTILE_NOTE = "@SUM(1+1)*cmd|' /C calc'!A0"
HOSTILE_PHONE = "-2+3+cmd|' /C calc'!A0"
PHOTO_IDS = [uuid.uuid4(), uuid.uuid4()]


def hostile_flow(flow: CampaignFlow) -> list[Payload]:
    """Return the flow's events with hostile text in the first visit's fields."""
    first = flow.visit_ids[0]
    events: list[Payload] = []
    for event in flow.all_events():
        if isinstance(event, VisitRequested) and event.visit_id == first:
            event = event.model_copy(update={"debtor_name": HOSTILE_NAME})
        if isinstance(event, VisitCheckedIn) and event.visit_id == first:
            event = event.model_copy(update={"lat": 19.4326, "lon": -99.1332})
        if isinstance(event, VisitCompleted) and event.visit_id == first:
            event = event.model_copy(
                update={
                    "notes": HOSTILE_NOTE,
                    "result_code": "promesa_pago",
                    "photo_ids": PHOTO_IDS,
                }
            )
        events.append(event)
    phone = ReportedPhone(
        number=HOSTILE_PHONE,
        kind=PhoneKind.WORK,
        owner=Relation.SPOUSE,
        given_by=Relation.SELF,
    )
    events.append(
        ContactDataUpdated(
            tenant_id=flow.tenant_id,
            visit_id=first,
            campaign_id=flow.campaign_id,
            account_id=flow.account_ids[0],
            account_key="ACC-0",
            agent_id=flow.agent_id,
            result_id=uuid.uuid4(),
            result_code="promesa_pago",
            reported_at=flow.at(5400),
            update=ContactUpdate(phones=[phone]),
        )
    )
    return events


@pytest.fixture
async def exported_flow(
    reporting: httpx.AsyncClient, tenant: CreatedTenant
) -> CampaignFlow:
    flow = CampaignFlow(tenant.tenant_id)
    await publish(hostile_flow(flow))
    await wait_consumed()
    return flow


def by_account(rows: list[dict[str, object]]) -> dict[object, dict[str, object]]:
    return {row["Cuenta"]: row for row in rows}


class TestCsvExport:
    async def test_headers_bom_and_attachment_name(
        self,
        reporting: httpx.AsyncClient,
        tenant: CreatedTenant,
        exported_flow: CampaignFlow,
    ) -> None:
        response = await reporting.get(
            f"/campaigns/{exported_flow.campaign_id}/export.csv", headers=auth(tenant)
        )

        assert response.status_code == 200, response.text
        assert response.headers["content-type"] == "text/csv; charset=utf-8"
        disposition = response.headers["content-disposition"]
        assert disposition.startswith('attachment; filename="campana-cobranza-norte-')
        assert "filename*=UTF-8''campa%C3%B1a-Cobranza-norte-" in disposition
        assert response.content.startswith("\ufeff".encode())
        assert b"\r\n" in response.content
        reader = csv.reader(io.StringIO(response.content.decode("utf-8-sig")))
        assert tuple(next(reader)) == HEADERS
        assert len(list(reader)) == 5

    async def test_hostile_text_quoted_numbers_kept(
        self,
        reporting: httpx.AsyncClient,
        tenant: CreatedTenant,
        exported_flow: CampaignFlow,
    ) -> None:
        response = await reporting.get(
            f"/campaigns/{exported_flow.campaign_id}/export?format=csv",
            headers=auth(tenant),
        )

        rows = list(csv.DictReader(io.StringIO(response.content.decode("utf-8-sig"))))
        first = by_account(rows)["ACC-0"]
        assert first["Deudor"] == "'" + HOSTILE_NAME
        assert first["Notas"] == "'" + HOSTILE_NOTE
        assert first["Teléfonos nuevos"] == "'" + HOSTILE_PHONE + " (trabajo, cónyuge)"
        assert first["Promesa: monto"] == "1500.00"
        assert first["Resultado"] == "promesa_pago"
        assert first["Persona contactada"] == "Deudor"
        assert first["Latitud"] == "19.4326"
        assert first["Distancia al domicilio (m)"] == "20.0"
        assert first["Evidencias"] == " ".join(
            f"http://127.0.0.1:8003/visits/{exported_flow.visit_ids[0]}/photos/{photo}"
            for photo in PHOTO_IDS
        )
        assert by_account(rows)["ACC-3"]["Estado"] == "Fuera de cobertura"


class TestXlsxExport:
    async def test_opens_with_typed_cells(
        self,
        reporting: httpx.AsyncClient,
        tenant: CreatedTenant,
        exported_flow: CampaignFlow,
    ) -> None:
        response = await reporting.get(
            f"/campaigns/{exported_flow.campaign_id}/export",
            headers=auth(tenant) | {"Accept": XLSX_TYPE},
        )

        assert response.status_code == 200, response.text
        assert response.headers["content-type"] == XLSX_TYPE
        assert ".xlsx" in response.headers["content-disposition"]
        book = openpyxl.load_workbook(io.BytesIO(response.content), read_only=True)
        sheet = book["Visitas"]
        header, *values = list(sheet.iter_rows(values_only=True))
        assert header == HEADERS
        rows = by_account([dict(zip(HEADERS, row, strict=True)) for row in values])
        first = rows["ACC-0"]
        assert first["Deudor"] == "'" + HOSTILE_NAME
        assert first["Notas"] == "'" + HOSTILE_NOTE
        assert first["Promesa: monto"] == 1500
        assert isinstance(first["Promesa: monto"], int | float)
        assert isinstance(first["Fecha del resultado"], datetime)
        assert isinstance(first["Latitud"], float)
        assert first["Contacto"] == "Sí"
        assert len(rows) == 5


class TestExportErrors:
    async def test_other_tenant_not_found(
        self, reporting: httpx.AsyncClient, exported_flow: CampaignFlow
    ) -> None:
        stranger = await provision_tenant(reporting)

        response = await reporting.get(
            f"/campaigns/{exported_flow.campaign_id}/export.xlsx",
            headers=auth(stranger),
        )

        assert response.status_code == 404
        assert response.headers["content-type"] == "application/problem+json"

    async def test_unknown_format_is_unprocessable(
        self, reporting: httpx.AsyncClient, tenant: CreatedTenant
    ) -> None:
        response = await reporting.get(
            f"/campaigns/{uuid.uuid4()}/export?format=pdf", headers=auth(tenant)
        )

        assert response.status_code == 422
        assert response.headers["content-type"] == "application/problem+json"

    async def test_unacceptable_media_type_is_406(
        self, reporting: httpx.AsyncClient, tenant: CreatedTenant
    ) -> None:
        response = await reporting.get(
            f"/campaigns/{uuid.uuid4()}/export",
            headers=auth(tenant) | {"Accept": "application/pdf"},
        )

        assert response.status_code == 406
        assert response.json()["type"].endswith("/not-acceptable")
        assert response.json()["available"] == ["text/csv", XLSX_TYPE]


async def export_peak_bytes(
    runtime: ServiceRuntime, plan: ExportPlan, context: RowContext
) -> tuple[int, int]:
    """Stream an export to nowhere; return its size and the traced memory peak."""
    size = 0
    tracemalloc.start()
    try:
        async for chunk in export_bytes(
            runtime.engine,
            plan,
            new_writer(plan.file_format),
            context=context,
            batch_rows=1000,
        ):
            size += len(chunk)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return size, peak


class TestExportMemory:
    @pytest.mark.parametrize("file_format", ["csv", "xlsx"])
    async def test_peak_does_not_grow_with_rows(
        self,
        reporting_app: FastAPI,
        reporting: httpx.AsyncClient,
        tenant: CreatedTenant,
        file_format: str,
    ) -> None:
        runtime: ServiceRuntime = reporting_app.state.runtime
        context = RowContext(
            zone=ZoneInfo("America/Mexico_City"),
            photo_base_url="https://visits.example",
        )
        peaks = {}
        for rows in (2_000, 20_000):
            campaign_id = await seed_campaign(
                runtime.engine, tenant_id=tenant.tenant_id, rows=rows
            )
            plan = ExportPlan(tenant.tenant_id, campaign_id, "Carga", rows, file_format)
            size, peaks[rows] = await export_peak_bytes(runtime, plan, context)
            assert size > rows * 100, "the export left rows out"

        # Ten times the rows, about the same peak: one batch is in memory.
        assert peaks[20_000] < peaks[2_000] * 1.5 + 1_000_000, peaks
        assert peaks[20_000] < 16 * 1024 * 1024, peaks


# Tens of megabytes of CSV: far more than the socket buffers between the
# server and a client that stopped reading, so the export must wait for it.
DISCONNECT_ROWS = 100_000


class TestExportDisconnect:
    @pytest.mark.parametrize("leaves", ["while_blocked", "while_encoding"])
    async def test_disconnect_ends_query_and_transaction(
        self,
        reporting_app: FastAPI,
        reporting: httpx.AsyncClient,
        tenant: CreatedTenant,
        caplog: pytest.LogCaptureFixture,
        monkeypatch: pytest.MonkeyPatch,
        leaves: str,
    ) -> None:
        runtime: ServiceRuntime = reporting_app.state.runtime
        campaign_id = await seed_campaign(
            runtime.engine, tenant_id=tenant.tenant_id, rows=DISCONNECT_ROWS
        )
        encoding = threading.Event()
        if leaves == "while_encoding":
            monkeypatch.setattr(export_service, "encode_batch", slow_encode(encoding))
        before = await export_backends(runtime)

        async with serve_http(reporting_app) as base_url:
            async with httpx.AsyncClient(base_url=base_url, timeout=30) as client:
                async with client.stream(
                    "GET", f"/campaigns/{campaign_id}/export.csv", headers=auth(tenant)
                ) as response:
                    assert response.status_code == 200
                    # Held in a name: a dropped iterator would close the stream.
                    chunks = response.aiter_raw()
                    await anext(chunks)
                    ours = await eventually(
                        lambda: new_export_backends(runtime, before),
                        message="no export query",
                    )
                    if leaves == "while_encoding":
                        # The client leaves while a batch is in the thread.
                        assert await asyncio.to_thread(encoding.wait, 30)
            # Idle in a transaction counts too: the read's locks would stay,
            # and a TRUNCATE of the read models would wait for them forever.
            await eventually(
                lambda: backends_released(runtime, ours),
                message="the export's transaction outlived its client",
            )
        ends = [
            record.msg
            for record in caplog.records
            if isinstance(record.msg, dict)
            and str(record.msg.get("event")).startswith("export.")
        ]
        assert [end["event"] for end in ends] == ["export.stopped"]
        assert ends[0]["rows"] < DISCONNECT_ROWS


def slow_encode(encoding: threading.Event) -> Callable[..., bytes]:
    """Return an encoder that sets `encoding` on each batch, then sleeps 0.5 s."""
    encode = export_service.encode_batch

    def encode_slowly(*args: Any) -> bytes:
        encoding.set()
        time.sleep(0.5)
        return encode(*args)

    return encode_slowly


EXPORT_BACKENDS = text(
    "SELECT pid FROM pg_stat_activity WHERE datname = current_database()"
    " AND state <> 'idle' AND query LIKE '%reporting.visit_details%'"
    # The live consumer writes visit_details too; only a read is the export.
    " AND query ILIKE 'select%'"
    " AND pid <> pg_backend_pid()"
)


async def export_backends(runtime: ServiceRuntime) -> set[int]:
    """Return the backends reading visit details or idle in a transaction after it."""
    # As the login role: the service's own role is not shown the query text
    # of sessions that logged in as another.
    engine = create_engine(runtime.settings.database_url, pool_size=1)
    try:
        async with engine.connect() as connection:
            return set((await connection.execute(EXPORT_BACKENDS)).scalars())
    finally:
        await engine.dispose()


async def new_export_backends(
    runtime: ServiceRuntime, before: set[int]
) -> set[int] | None:
    return (await export_backends(runtime) - before) or None


async def backends_released(runtime: ServiceRuntime, pids: set[int]) -> bool:
    return not (await export_backends(runtime) & pids)


class TestExportLimits:
    async def test_tenant_limit_refuses_then_frees_its_slot(
        self,
        reporting_app: FastAPI,
        reporting: httpx.AsyncClient,
        tenant: CreatedTenant,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        runtime: ServiceRuntime = reporting_app.state.runtime
        runtime.state[SLOTS_KEY] = ExportSlots(per_tenant=1, total=2)
        campaign_id = await seed_campaign(
            runtime.engine, tenant_id=tenant.tenant_id, rows=50
        )
        other = await provision_tenant(reporting)
        other_campaign = await seed_campaign(
            runtime.engine, tenant_id=other.tenant_id, rows=50
        )
        release = threading.Event()
        encode = export_service.encode_batch

        def held_encode(*args: Any) -> bytes:
            release.wait(30)
            return encode(*args)

        monkeypatch.setattr(export_service, "encode_batch", held_encode)
        path = f"/campaigns/{campaign_id}/export.csv"

        async with serve_http(reporting_app) as base_url:
            async with httpx.AsyncClient(base_url=base_url, timeout=30) as client:
                async with client.stream("GET", path, headers=auth(tenant)) as first:
                    assert first.status_code == 200
                    refused = await reporting.get(path, headers=auth(tenant))
                    assert refused.status_code == 429
                    assert refused.headers["Retry-After"] == "30"
                    assert refused.headers["content-type"] == "application/problem+json"
                    assert "1 exports of this tenant" in refused.json()["detail"]
                    # Another tenant has slots of its own.
                    release.set()
                    elsewhere = await reporting.get(
                        f"/campaigns/{other_campaign}/export.csv", headers=auth(other)
                    )
                    assert elsewhere.status_code == 200
                    await first.aread()

        # The finished download gave its slot back.
        again = await reporting.get(path, headers=auth(tenant))
        assert again.status_code == 200
        assert runtime.state[SLOTS_KEY].running == {}

    async def test_refused_plan_takes_no_slot(
        self,
        reporting_app: FastAPI,
        reporting: httpx.AsyncClient,
        tenant: CreatedTenant,
    ) -> None:
        runtime: ServiceRuntime = reporting_app.state.runtime
        runtime.state[SLOTS_KEY] = ExportSlots(per_tenant=1, total=1)
        missing = await reporting.get(
            f"/campaigns/{uuid.uuid4()}/export.csv", headers=auth(tenant)
        )
        assert missing.status_code == 404
        assert runtime.state[SLOTS_KEY].running == {}
