"""Uploads as jobs: background processing, progress, reports and policies."""

import asyncio
import io
import json
import os
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from python_calamine import CalamineWorkbook

from ingest.app import create_app
from ingest.models import Upload
from ingest.settings import IngestSettings
from ingest.uploads import job_repository, service
from shared.db import create_engine, create_sessionmaker
from tests.fixtures import hostile_files
from tests.fixtures.apps import eventually, running_app
from tests.fixtures.portfolios import HEADERS, account_row, csv_bytes, xlsx_bytes
from tests.fixtures.tenants import make_tenant

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@pytest.fixture
async def client(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[httpx.AsyncClient]:
    monkeypatch.setenv("INGEST_UPLOAD_PROGRESS_SECONDS", "0.05")
    monkeypatch.setenv("INGEST_UPLOAD_EVENTS_POLL_SECONDS", "0.05")
    async with running_app(create_app()) as running:
        yield running


@pytest.fixture
async def api_key() -> str:
    return (await make_tenant()).api_key.key


def mixed_rows() -> list[list[object]]:
    """Four rows: one with an error, one with a warning, two clean."""
    return [
        account_row("J-1"),
        account_row("J-2", balance="no sé"),
        account_row("J-3", phone="123"),
        account_row("J-4"),
    ]


async def post_file(
    client: httpx.AsyncClient,
    api_key: str,
    content: bytes,
    *,
    params: dict[str, str] | None = None,
    headers: dict[str, str] | None = None,
) -> httpx.Response:
    return await client.post(
        "/uploads",
        params=params,
        headers={"X-API-Key": api_key, **(headers or {})},
        files={"file": ("cartera.xlsx", content)},
    )


async def finished(
    client: httpx.AsyncClient, api_key: str, location: str
) -> dict[str, Any]:
    async def probe() -> dict[str, Any] | None:
        response = await client.get(location, headers={"X-API-Key": api_key})
        body: dict[str, Any] = response.json()
        return body if body["status"] not in ("queued", "processing") else None

    return await eventually(probe, message="upload still running")


def parse_sse(text: str) -> list[dict[str, str]]:
    events = []
    for block in text.replace("\r\n", "\n").split("\n\n"):
        fields = {}
        for line in block.split("\n"):
            if line and not line.startswith(":"):
                name, _, value = line.partition(":")
                fields[name] = value.removeprefix(" ")
        if "data" in fields:
            events.append(fields)
    return events


class TestBackgroundUpload:
    async def test_wait_false_answers_202_then_completes(self, client, api_key):
        rows = [account_row(f"B-{index}") for index in range(300)]

        response = await post_file(
            client, api_key, xlsx_bytes(rows), params={"wait": "false"}
        )

        assert response.status_code == 202, response.text
        location = response.headers["location"]
        assert location == f"/uploads/{response.json()['upload_id']}"
        assert response.json()["status"] in ("queued", "processing", "completed")
        body = await finished(client, api_key, location)
        assert body["status"] == "completed"
        assert body["progress_percent"] == 100
        assert body["rows_read"] == 300
        assert body["rows_valid"] == 300
        assert body["accounts_created"] == 300
        stored = await client.get("/accounts/B-299", headers={"X-API-Key": api_key})
        assert stored.status_code == 200

    async def test_small_upload_passes_large_one(self, api_key, monkeypatch):
        # The large upload's 20,000 account events go to topics of their own,
        # so the consumers of later tests do not have to read through them.
        prefix = f"{os.environ['KAFKA_TOPIC_PREFIX']}large-{uuid.uuid4().hex[:8]}."
        monkeypatch.setenv("KAFKA_TOPIC_PREFIX", prefix)
        large = [account_row(f"L-{index}") for index in range(20_000)]
        async with running_app(create_app()) as client:
            first = await post_file(
                client, api_key, xlsx_bytes(large), params={"wait": "false"}
            )
            second = await post_file(
                client,
                api_key,
                xlsx_bytes([account_row("S-1")]),
                params={"wait": "false"},
            )

            small = await finished(client, api_key, second.headers["location"])
            large_now = await client.get(
                first.headers["location"], headers={"X-API-Key": api_key}
            )
            large_done = await finished(client, api_key, first.headers["location"])

        assert small["status"] == "completed"
        assert large_now.json()["status"] in ("queued", "processing")
        assert large_done["status"] == "completed"
        assert large_done["rows_valid"] == 20_000

    async def test_prefer_respond_async_header(self, client, api_key):
        response = await post_file(
            client,
            api_key,
            xlsx_bytes([account_row("P-1")]),
            headers={"Prefer": "respond-async"},
        )

        assert response.status_code == 202
        body = await finished(client, api_key, response.headers["location"])
        assert body["status"] == "completed"

    async def test_unreadable_file_fails_the_job(self, client, api_key):
        response = await post_file(
            client, api_key, b"\x00\x01garbage", params={"wait": "false"}
        )

        assert response.status_code == 202
        body = await finished(client, api_key, response.headers["location"])
        assert body["status"] == "failed"
        assert "not a workbook" in body["failure_message"]

    async def test_events_stream_ends_with_final_state(self, client, api_key):
        rows = [account_row(f"E-{index}") for index in range(2000)]
        response = await post_file(
            client, api_key, xlsx_bytes(rows), params={"wait": "false"}
        )
        location = response.headers["location"]

        streamed = await client.get(
            f"{location}/events", headers={"X-API-Key": api_key}, timeout=60
        )

        assert streamed.status_code == 200
        assert streamed.headers["content-type"].startswith("text/event-stream")
        events = parse_sse(streamed.text)
        names = [event["event"] for event in events]
        assert names[-1] == "completed"
        assert set(names[:-1]) <= {"progress"}
        assert len(events) >= 2, names
        percents = [json.loads(event["data"])["progress_percent"] for event in events]
        assert percents == sorted(percents)
        assert percents[-1] == 100
        assert json.loads(events[-1]["data"])["rows_valid"] == 2000

    async def test_events_of_unknown_upload_is_404(self, client, api_key):
        response = await client.get(
            f"/uploads/{uuid.uuid4()}/events", headers={"X-API-Key": api_key}
        )

        assert response.status_code == 404

    async def test_replayed_key_queues_nothing_new(self, client, api_key):
        headers = {"Idempotency-Key": "async-1"}
        content = xlsx_bytes([account_row("I-1")])
        params = {"wait": "false"}

        first = await post_file(
            client, api_key, content, params=params, headers=headers
        )
        again = await post_file(
            client, api_key, content, params=params, headers=headers
        )
        other = await post_file(
            client,
            api_key,
            xlsx_bytes([account_row("I-2")]),
            params=params,
            headers=headers,
        )

        assert first.status_code == again.status_code == 202
        assert again.json()["upload_id"] == first.json()["upload_id"]
        assert other.status_code == 422
        assert "async-1" in other.json()["detail"]
        listed = await client.get("/uploads", headers={"X-API-Key": api_key})
        assert len(listed.json()["items"]) == 1


class TestInterruptedJobs:
    async def test_left_processing_is_failed_at_start(self, api_key):
        tenant_id = await _tenant_of(api_key)
        upload_id = uuid.uuid4()
        engine = create_engine(IngestSettings().database_url, pool_size=1)
        try:
            sessionmaker = create_sessionmaker(engine)
            async with sessionmaker() as session, session.begin():
                session.add(_running_upload(upload_id, tenant_id))
            async with running_app(create_app()) as running:
                body = await finished(running, api_key, f"/uploads/{upload_id}")
        finally:
            await engine.dispose()

        assert body["status"] == "failed"
        assert "upload the file again" in body["failure_message"]
        # Nothing of a failed upload was stored, so no row counts as valid.
        assert (body["rows_read"], body["rows_valid"], body["rows_invalid"]) == (
            700,
            0,
            0,
        )

    async def test_other_process_live_job_kept(self, api_key, monkeypatch):
        monkeypatch.setenv("INGEST_UPLOAD_HEARTBEAT_SECONDS", "0.05")
        # Long enough for the app to start on a loaded machine, since the live
        # job's first beat after its insert comes once the app is up.
        monkeypatch.setenv("INGEST_UPLOAD_STALE_SECONDS", "10")
        tenant_id = await _tenant_of(api_key)
        live_id, stale_id = uuid.uuid4(), uuid.uuid4()
        other_worker = uuid.uuid4()
        engine = create_engine(IngestSettings().database_url, pool_size=1)
        try:
            sessionmaker = create_sessionmaker(engine)
            async with sessionmaker() as session, session.begin():
                session.add(_running_upload(live_id, tenant_id, other_worker))
                stale = _running_upload(stale_id, tenant_id, uuid.uuid4())
                stale.heartbeat_at = datetime.now(UTC) - timedelta(minutes=5)
                session.add(stale)
            async with running_app(create_app()) as running:
                # The other process beats for its job while this one sweeps.
                for _ in range(30):
                    async with sessionmaker() as session, session.begin():
                        await job_repository.beat(session, [live_id])
                    await asyncio.sleep(0.05)
                stale_body = await finished(running, api_key, f"/uploads/{stale_id}")
                live = await running.get(
                    f"/uploads/{live_id}", headers={"X-API-Key": api_key}
                )
        finally:
            await engine.dispose()

        assert stale_body["status"] == "failed"
        assert live.json()["status"] == "processing"

    async def test_stopping_service_fails_running_upload(self, api_key):
        large = xlsx_bytes([account_row(f"K-{index}") for index in range(20_000)])
        async with running_app(create_app()) as running:
            response = await post_file(
                running, api_key, large, params={"wait": "false"}
            )
            location = response.headers["location"]

            async def processing() -> bool | None:
                polled = await running.get(location, headers={"X-API-Key": api_key})
                return True if polled.json()["status"] == "processing" else None

            await eventually(processing, message="upload never started")

        upload = await _upload(uuid.UUID(response.json()["upload_id"]))
        assert upload.status == "failed"
        assert upload.failure_message is not None
        assert "stopped" in upload.failure_message

    async def test_background_upload_records_worker(self, client, api_key):
        response = await post_file(
            client, api_key, xlsx_bytes([account_row("W-1")]), params={"wait": "false"}
        )
        await finished(client, api_key, response.headers["location"])

        upload_id = uuid.UUID(response.json()["upload_id"])
        engine = create_engine(IngestSettings().database_url, pool_size=1)
        try:
            async with create_sessionmaker(engine)() as session:
                upload = await session.get(Upload, upload_id)
        finally:
            await engine.dispose()
        assert upload is not None
        assert upload.worker_id is not None
        assert upload.heartbeat_at is not None


def test_stale_limit_below_two_heartbeats_rejected(monkeypatch):
    monkeypatch.setenv("INGEST_UPLOAD_HEARTBEAT_SECONDS", "30")
    monkeypatch.setenv("INGEST_UPLOAD_STALE_SECONDS", "45")

    with pytest.raises(ValueError, match="INGEST_UPLOAD_STALE_SECONDS"):
        IngestSettings()


async def _tenant_of(api_key: str) -> uuid.UUID:
    async with running_app(create_app()) as running:
        response = await post_file(running, api_key, xlsx_bytes([account_row("T-1")]))
    return await _upload_tenant(uuid.UUID(response.json()["upload_id"]))


async def _upload(upload_id: uuid.UUID) -> Upload:
    engine = create_engine(IngestSettings().database_url, pool_size=1)
    try:
        async with create_sessionmaker(engine)() as session:
            upload = await session.get(Upload, upload_id)
    finally:
        await engine.dispose()
    assert upload is not None
    return upload


async def _upload_tenant(upload_id: uuid.UUID) -> uuid.UUID:
    engine = create_engine(IngestSettings().database_url, pool_size=1)
    try:
        async with create_sessionmaker(engine)() as session:
            upload = await session.get(Upload, upload_id)
            assert upload is not None
            return upload.tenant_id
    finally:
        await engine.dispose()


def _running_upload(
    upload_id: uuid.UUID, tenant_id: uuid.UUID, worker: uuid.UUID | None = None
) -> Upload:
    """Return an upload left processing, with a fresh heartbeat when it has a worker."""
    return Upload(
        upload_id=upload_id,
        tenant_id=tenant_id,
        filename="cartera.xlsx",
        file_format="xlsx",
        status="processing",
        rows_read=700,
        rows_total=700,
        rows_valid=650,
        rows_invalid=50,
        progress_percent=35,
        accounts_created=0,
        accounts_updated=0,
        created_at=datetime.now(UTC) - timedelta(minutes=5),
        worker_id=worker,
        heartbeat_at=datetime.now(UTC) if worker is not None else None,
    )


class TestErrorReport:
    async def test_xlsx_lists_only_rows_with_issues(self, client, api_key):
        upload = await post_file(client, api_key, xlsx_bytes(mixed_rows()))
        upload_id = upload.json()["upload_id"]

        response = await client.get(
            f"/uploads/{upload_id}/report.xlsx", headers={"X-API-Key": api_key}
        )

        assert response.status_code == 200
        assert response.headers["content-type"] == XLSX
        assert "attachment" in response.headers["content-disposition"]
        workbook = CalamineWorkbook.from_filelike(io.BytesIO(response.content))
        grid = workbook.get_sheet_by_index(0).to_python()
        assert grid[0] == ["Excel row", *HEADERS, "Errors"]
        assert [row[0] for row in grid[1:]] == [3, 4]
        assert [row[1] for row in grid[1:]] == ["J-2", "J-3"]
        assert grid[1][3] == "no sé"
        assert grid[1][-1].startswith("error (balance_overdue)")
        assert grid[2][-1].startswith("warning (phone)")

    async def test_numbers_reported_as_excel_shows_them(self, client, api_key):
        rows = [account_row("N-1", days=45, balance=12500.5, phone="123")]
        upload = await post_file(client, api_key, xlsx_bytes(rows))
        upload_id = upload.json()["upload_id"]

        response = await client.get(
            f"/uploads/{upload_id}/report.csv", headers={"X-API-Key": api_key}
        )

        line = response.content.decode("utf-8-sig").splitlines()[1]
        cells = line.split(",")
        # Row number, key, name, balance, days past due, ...
        assert cells[3:5] == ["12500.5", "45"]
        assert "6600" in cells

    async def test_running_upload_has_no_report_yet(self, client, api_key):
        tenant_id = await _tenant_of(api_key)
        upload_id = uuid.uuid4()
        engine = create_engine(IngestSettings().database_url, pool_size=1)
        try:
            async with create_sessionmaker(engine)() as session, session.begin():
                # A live heartbeat, so no sweep fails it during the test.
                session.add(_running_upload(upload_id, tenant_id, uuid.uuid4()))
        finally:
            await engine.dispose()

        report = await client.get(
            f"/uploads/{upload_id}/report.csv", headers={"X-API-Key": api_key}
        )

        assert report.status_code == 409
        assert report.json()["current_state"] == "processing"
        assert f"GET /uploads/{upload_id}" in report.json()["detail"]

    async def test_failed_upload_has_no_report(self, client, api_key):
        response = await post_file(
            client, api_key, b"\x00\x01garbage", params={"wait": "false"}
        )
        await finished(client, api_key, response.headers["location"])
        upload_id = response.json()["upload_id"]

        for extension in ("csv", "xlsx"):
            report = await client.get(
                f"/uploads/{upload_id}/report.{extension}",
                headers={"X-API-Key": api_key},
            )
            assert report.status_code == 409
            assert report.headers["content-type"] == "application/problem+json"
            assert report.json()["current_state"] == "failed"
            assert "not a workbook" in report.json()["detail"]

    async def test_csv_repeats_original_cells(self, client, api_key):
        upload = await post_file(client, api_key, xlsx_bytes(mixed_rows()))
        upload_id = upload.json()["upload_id"]

        response = await client.get(
            f"/uploads/{upload_id}/report.csv", headers={"X-API-Key": api_key}
        )

        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/csv")
        lines = response.content.decode("utf-8-sig").splitlines()
        assert lines[0].startswith("Excel row,No. de Crédito,")
        assert lines[1].startswith("3,J-2,")
        assert len([line for line in lines if line[:1].isdigit()]) == 2

    async def test_rows_with_late_issues_keep_cells(self, client, api_key):
        # A repeated key and an address geocoding cannot place are found after
        # the rows were parsed, when their cells are no longer kept.
        rows = [
            account_row("J-1"),
            account_row(
                "J-2", colonia=None, municipality=None, state=None, lat=None, lon=None
            ),
            account_row("J-3"),
            account_row("j-1", phone="55 9876 5432"),
        ]
        upload = await post_file(client, api_key, csv_bytes(rows))
        upload_id = upload.json()["upload_id"]

        response = await client.get(
            f"/uploads/{upload_id}/report.csv", headers={"X-API-Key": api_key}
        )

        assert response.status_code == 200
        lines = response.content.decode("utf-8-sig").splitlines()
        report_rows = [line for line in lines if line[:1].isdigit()]
        assert len(report_rows) == 2
        assert report_rows[0].startswith("3,J-2,María Guadalupe Hernández,")
        assert report_rows[1].startswith("5,j-1,María Guadalupe Hernández,")
        assert "55 9876 5432" in report_rows[1]

    async def test_report_of_other_tenant_is_404(self, client, api_key):
        upload = await post_file(client, api_key, xlsx_bytes(mixed_rows()))
        other = (await make_tenant()).api_key.key

        response = await client.get(
            f"/uploads/{upload.json()['upload_id']}/report.xlsx",
            headers={"X-API-Key": other},
        )

        assert response.status_code == 404


class TestRejectAll:
    async def test_one_error_stores_nothing(self, client, api_key):
        response = await post_file(
            client, api_key, xlsx_bytes(mixed_rows()), params={"on_error": "reject_all"}
        )

        assert response.status_code == 201
        body = response.json()
        assert body["status"] == "rejected"
        assert body["on_error"] == "reject_all"
        assert body["accounts_created"] == 0
        assert {(e["row"], e["column"]) for e in body["errors"]} >= {
            (3, "balance_overdue"),
            (4, "phone"),
        }
        for key in ("J-1", "J-4"):
            stored = await client.get(
                f"/accounts/{key}", headers={"X-API-Key": api_key}
            )
            assert stored.status_code == 404, key

    async def test_warnings_alone_still_store(self, client, api_key):
        rows = [account_row("W-1"), account_row("W-2", phone="123")]

        response = await post_file(
            client, api_key, xlsx_bytes(rows), params={"on_error": "reject_all"}
        )

        assert response.json()["status"] == "completed"
        assert response.json()["accounts_created"] == 2

    async def test_tenant_default_applies(self, client, api_key):
        headers = {"X-API-Key": api_key}
        saved = await client.put(
            "/upload-settings", headers=headers, json={"on_error": "reject_all"}
        )
        read = await client.get("/upload-settings", headers=headers)

        background = await post_file(
            client, api_key, xlsx_bytes(mixed_rows()), params={"wait": "false"}
        )
        body = await finished(client, api_key, background.headers["location"])
        explicit = await post_file(
            client,
            api_key,
            xlsx_bytes(mixed_rows()),
            params={"on_error": "store_valid"},
        )

        assert saved.status_code == 200
        assert read.json() == {"on_error": "reject_all"}
        assert body["status"] == "rejected"
        assert body["accounts_created"] == 0
        assert explicit.json()["status"] == "completed"
        assert explicit.json()["accounts_created"] == 3


class TestUploadList:
    async def test_lists_newest_first_with_cursor(self, client, api_key):
        ids = []
        for index in range(3):
            content = xlsx_bytes([account_row(f"L-{index}")])
            ids.append((await post_file(client, api_key, content)).json()["upload_id"])
        headers = {"X-API-Key": api_key}

        first = await client.get("/uploads", params={"limit": 2}, headers=headers)
        cursor = first.json()["next_cursor"]
        second = await client.get(
            "/uploads", params={"limit": 2, "cursor": cursor}, headers=headers
        )
        bad = await client.get("/uploads", params={"cursor": "x"}, headers=headers)

        listed = [item["upload_id"] for item in first.json()["items"]]
        listed += [item["upload_id"] for item in second.json()["items"]]
        assert listed == ids[::-1]
        assert second.json()["next_cursor"] is None
        assert bad.status_code == 422


class TestHostileWorkbooks:
    @pytest.mark.parametrize(
        ("content", "expected"),
        [
            (hostile_files.zip_bomb_xlsx, "ZIP bomb"),
            (hostile_files.xml_bomb_xlsx, "DOCTYPE"),
        ],
    )
    async def test_bomb_rejected_storing_nothing(
        self, client, api_key, content, expected
    ):
        response = await post_file(client, api_key, content())

        assert response.status_code == 422
        assert response.headers["content-type"] == "application/problem+json"
        assert expected in response.json()["detail"]
        listed = await client.get("/uploads", headers={"X-API-Key": api_key})
        assert listed.json()["items"] == []
        stored = await client.get("/accounts/X-1", headers={"X-API-Key": api_key})
        assert stored.status_code == 404

    @pytest.mark.parametrize(
        ("content", "expected"),
        [
            (hostile_files.unreferenced_cells_on_last_row, "cell CV1048576"),
            (hostile_files.unreferenced_cells_past_last_column, "cell GS3"),
            (lambda: hostile_files.long_inline_string(40_000), "cell B3"),
            (lambda: hostile_files.long_shared_string(40_000), "shared string 7"),
        ],
    )
    async def test_oversized_cell_rejected_storing_nothing(
        self, client, api_key, content, expected
    ):
        response = await post_file(client, api_key, content())

        assert response.status_code == 422, response.text
        assert expected in response.json()["detail"]
        listed = await client.get("/uploads", headers={"X-API-Key": api_key})
        assert listed.json()["items"] == []
        stored = await client.get("/accounts/R-1", headers={"X-API-Key": api_key})
        assert stored.status_code == 404


class TestHostileCsv:
    @pytest.mark.parametrize(
        ("name", "expected"), [("Ana\x00Pérez", "NUL"), ("x" * 1_000_000, "131,072")]
    )
    async def test_bad_cell_rejects_only_its_row(self, client, api_key, name, expected):
        response = await post_file(
            client, api_key, hostile_files.csv_with_bad_cell(name)
        )

        assert response.status_code == 201, response.text
        assert response.json()["rows_valid"] == 2
        assert response.json()["rows_invalid"] == 1
        [error] = [
            issue for issue in response.json()["errors"] if issue["severity"] == "error"
        ]
        assert error["row"] == 3
        assert error["column"] == "debtor_name"
        assert expected in error["message"]
        headers = {"X-API-Key": api_key}
        for key, status in [("C-1", 200), ("C-2", 404), ("C-3", 200)]:
            stored = await client.get(f"/accounts/{key}", headers=headers)
            assert stored.status_code == status, key

    @pytest.mark.parametrize(
        ("content", "expected"),
        [
            (hostile_files.wide_csv(3000), "200 columns"),
            (hostile_files.utf16_csv(bom=True), "UTF-16 is not supported"),
        ],
    )
    async def test_unreadable_csv_is_422(self, client, api_key, content, expected):
        response = await post_file(client, api_key, content)

        assert response.status_code == 422, response.text
        assert expected in response.json()["detail"]

    async def test_totals_like_key_is_stored(self, client, api_key):
        response = await post_file(
            client, api_key, hostile_files.totals_like_keys_csv()
        )

        assert response.status_code == 201, response.text
        assert response.json()["rows_valid"] == 2
        skipped = [row["row"] for row in response.json()["skipped_rows"]]
        assert skipped == [4, 5, 6, 7]
        stored = await client.get("/accounts/TOTAL 2", headers={"X-API-Key": api_key})
        assert stored.status_code == 200
        assert stored.json()["debtor_name"] == "Ana López"

    async def test_look_alike_keys_are_duplicates(self, client, api_key):
        response = await post_file(client, api_key, hostile_files.look_alike_keys_csv())

        assert response.status_code == 201, response.text
        assert response.json()["rows_valid"] == 1
        errors = [
            issue for issue in response.json()["errors"] if issue["severity"] == "error"
        ]
        assert [error["row"] for error in errors] == [3, 4, 5, 6]
        assert all("row 2" in error["message"] for error in errors)
        assert "when case is ignored" in errors[-1]["message"]
        stored = await client.get("/accounts/Z1", headers={"X-API-Key": api_key})
        assert stored.status_code == 200
        assert stored.json()["debtor_name"] == "Ana López"


class TestErrorPages:
    async def test_response_carries_first_errors_and_pages_the_rest(
        self, client, api_key, monkeypatch
    ):
        monkeypatch.setattr(service, "INLINE_ERRORS", 2)
        rows = [account_row(f"EP-{index}", balance="no sé") for index in range(5)]
        response = await post_file(client, api_key, csv_bytes(rows))

        body = response.json()
        assert [error["row"] for error in body["errors"]] == [2, 3]
        assert body["errors_total"] == 5
        assert body["errors_truncated"] is True

        seen: list[int] = []
        cursor = None
        for _ in range(5):
            params = {"limit": "2", **({"cursor": cursor} if cursor else {})}
            page = await client.get(
                f"/uploads/{body['upload_id']}/errors",
                params=params,
                headers={"X-API-Key": api_key},
            )
            assert page.status_code == 200, page.text
            seen += [error["row"] for error in page.json()["items"]]
            cursor = page.json()["next_cursor"]
            if cursor is None:
                break
        assert seen == [2, 3, 4, 5, 6]

    async def test_error_pages_answer_problems(self, client, api_key):
        response = await post_file(client, api_key, xlsx_bytes(mixed_rows()))
        upload_id = response.json()["upload_id"]
        assert response.json()["errors_truncated"] is False

        bad_cursor = await client.get(
            f"/uploads/{upload_id}/errors",
            params={"cursor": "nope"},
            headers={"X-API-Key": api_key},
        )
        other = await client.get(
            f"/uploads/{upload_id}/errors",
            headers={"X-API-Key": (await make_tenant()).api_key.key},
        )
        too_many = await client.get(
            f"/uploads/{upload_id}/errors",
            params={"limit": "5001"},
            headers={"X-API-Key": api_key},
        )

        assert bad_cursor.status_code == 422
        assert "next_cursor" in bad_cursor.json()["detail"]
        assert other.status_code == 404
        assert too_many.status_code == 422
