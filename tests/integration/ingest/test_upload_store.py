"""What the upload store writes: unchanged accounts, history, outbox rows."""

import uuid

import httpx
import pytest
from sqlalchemy import select

from ingest.app import create_app
from ingest.geocoding.service import UNPLACED, Placement, build_locator
from ingest.models import common
from ingest.settings import IngestSettings
from ingest.uploads.normalize import AccountRow
from ingest.uploads.parsing import parse_file
from shared.db import create_engine, create_sessionmaker
from shared.events import topics
from shared.events.payloads import AccountUpserted, Address, GeoPoint, Money
from shared.outbox import add_event, add_events
from tests.fixtures import hostile_files
from tests.fixtures.apps import running_app
from tests.fixtures.events import read_events
from tests.fixtures.portfolios import account_row, csv_bytes, xlsx_bytes
from tests.fixtures.tenants import make_tenant


@pytest.fixture
async def ingest_client():
    async with running_app(create_app()) as client:
        yield client


@pytest.fixture
async def tenant():
    return await make_tenant()


@pytest.fixture
async def other_tenant():
    return await make_tenant()


async def upload(
    client: httpx.AsyncClient, api_key: str, content: bytes, name: str = "cartera.xlsx"
) -> dict:
    response = await client.post(
        "/uploads", headers={"X-API-Key": api_key}, files={"file": (name, content)}
    )
    assert response.status_code == 201, response.text
    return response.json()


async def outbox_rows(tenant_id: uuid.UUID) -> list:
    engine = create_engine(IngestSettings().database_url, pool_size=1)
    try:
        async with engine.connect() as connection:
            result = await connection.execute(
                select(common.outbox)
                .where(
                    common.outbox.c.tenant_id == tenant_id,
                    common.outbox.c.event_type == AccountUpserted.event_type,
                )
                .order_by(common.outbox.c.seq)
            )
            return list(result)
    finally:
        await engine.dispose()


def reference_event(
    tenant_id: uuid.UUID,
    upload_id: uuid.UUID,
    account_id: uuid.UUID,
    row: AccountRow,
    created: bool,
    placement: Placement,
) -> AccountUpserted:
    """Build the event from the parsed row in Python, as uploads did before."""
    result = placement.result
    location = None if result is None else GeoPoint(lat=result.lat, lon=result.lon)
    return AccountUpserted(
        tenant_id=tenant_id,
        account_id=account_id,
        account_key=row.account_key,
        credit_number=row.credit_number,
        upload_id=upload_id,
        debtor_name=row.debtor_name,
        balance_overdue=(
            Money(amount=row.balance_overdue, currency="MXN")
            if row.balance_overdue is not None
            else None
        ),
        days_past_due=row.days_past_due,
        address=Address.model_validate(row, from_attributes=True),
        phone=row.phone,
        location=location,
        location_precision=result.precision if result else None,
        location_source=result.source if result else None,
        time_zone=placement.time_zone,
        created=created,
    )


async def reference_events(
    tenant_id: uuid.UUID, upload_id: str, content: bytes, account_ids: dict, created
) -> dict[str, dict]:
    settings = IngestSettings()
    parsed = parse_file(content, max_rows=1000)
    engine = create_engine(settings.database_url, pool_size=1)
    try:
        locator = build_locator(settings, create_sessionmaker(engine))
        placements = await locator.locate(parsed.rows)
    finally:
        await engine.dispose()
    # The files of these tests repeat no key.
    accounts = [row.account for row in parsed.rows if row.account is not None]
    return {
        row.account_key: reference_event(
            tenant_id,
            uuid.UUID(upload_id),
            account_ids[row.account_key],
            row,
            created,
            placements.get(row.account_key, UNPLACED),
        ).model_dump(mode="json")
        for row in accounts
    }


class TestUnchangedAccounts:
    async def test_same_file_twice_changes_nothing(self, ingest_client, tenant):
        key = tenant.api_key.key
        headers = {"X-API-Key": key}
        rows = [account_row(f"S-{i}", balance=100 + i) for i in range(3)]
        content = xlsx_bytes(rows)
        first = await upload(ingest_client, key, content)
        assert first["accounts_created"] == 3
        before = (await ingest_client.get("/accounts/S-0", headers=headers)).json()

        second = await upload(ingest_client, key, content)
        assert second["accounts_created"] == 0
        assert second["accounts_updated"] == 0
        assert second["accounts_unchanged"] == 3
        after = (await ingest_client.get("/accounts/S-0", headers=headers)).json()
        assert after["updated_at"] == before["updated_at"]

        # A third upload changes one account. The relay publishes in outbox
        # order, so once its event is on Kafka, any event of the second
        # upload would be there too.
        rows[1] = account_row("S-1", balance=999)
        third = await upload(ingest_client, key, xlsx_bytes(rows))
        assert third["accounts_updated"] == 1
        assert third["accounts_unchanged"] == 2
        [changed] = await read_events(
            topics.ACCOUNTS,
            count=1,
            where=lambda e: e.data["upload_id"] == third["upload_id"],
        )
        assert changed.data["account_key"] == "S-1"
        assert changed.data["balance_overdue"]["amount"] == "999.00"
        assert changed.data["created"] is False
        with pytest.raises(TimeoutError):
            await read_events(
                topics.ACCOUNTS,
                count=1,
                where=lambda e: e.data["upload_id"] == second["upload_id"],
                timeout_seconds=3,
            )
        first_events = await read_events(
            topics.ACCOUNTS,
            count=3,
            where=lambda e: e.data["upload_id"] == first["upload_id"],
        )
        assert sorted(e.data["account_key"] for e in first_events) == [
            "S-0",
            "S-1",
            "S-2",
        ]
        written = await outbox_rows(tenant.tenant_id)
        assert [row.data["upload_id"] for row in written] == [
            first["upload_id"]
        ] * 3 + [third["upload_id"]]


class TestHistory:
    async def test_update_records_old_and_new(self, ingest_client, tenant):
        key = tenant.api_key.key
        headers = {"X-API-Key": key}
        await upload(ingest_client, key, xlsx_bytes([account_row("H-1", balance=100)]))
        changed = await upload(
            ingest_client,
            key,
            xlsx_bytes([account_row("H-1", balance=250, colonia="Narvarte")]),
        )
        await upload(
            ingest_client,
            key,
            xlsx_bytes([account_row("H-1", balance=250, colonia="Narvarte")]),
        )

        response = await ingest_client.get("/accounts/H-1/history", headers=headers)
        assert response.status_code == 200, response.text
        history = response.json()
        assert history["account_key"] == "H-1"
        assert len(history["items"]) == 1
        item = history["items"][0]
        assert item["upload_id"] == changed["upload_id"]
        assert item["changes"] == {
            "balance_overdue": {"old": "100.00", "new": "250.00"},
            "colonia": {"old": "Del Valle", "new": "Narvarte"},
        }
        stored = (await ingest_client.get("/accounts/H-1", headers=headers)).json()
        assert stored["balance_overdue"] == "250.00"
        assert stored["address"]["colonia"] == "Narvarte"

    async def test_moved_account_history_shows_points(self, ingest_client, tenant):
        key = tenant.api_key.key
        await upload(ingest_client, key, xlsx_bytes([account_row("H-2")]))
        await upload(ingest_client, key, xlsx_bytes([account_row("H-2", lat=19.5)]))
        history = (
            await ingest_client.get("/accounts/H-2/history", headers={"X-API-Key": key})
        ).json()
        changes = history["items"][0]["changes"]
        assert changes["location"] == {
            "old": "POINT(-99.1332 19.4326)",
            "new": "POINT(-99.1332 19.5)",
        }

    async def test_history_is_tenant_scoped(self, ingest_client, tenant, other_tenant):
        await upload(
            ingest_client, tenant.api_key.key, xlsx_bytes([account_row("T-1")])
        )
        foreign = await ingest_client.get(
            "/accounts/T-1/history", headers={"X-API-Key": other_tenant.api_key.key}
        )
        assert foreign.status_code == 404
        assert foreign.headers["content-type"] == "application/problem+json"
        unknown = await ingest_client.get(
            "/accounts/NO-SUCH/history", headers={"X-API-Key": tenant.api_key.key}
        )
        assert unknown.status_code == 404


class TestOutboxRows:
    async def test_bulk_events_match_accounts(self, ingest_client, tenant):
        key = tenant.api_key.key
        rows = [
            account_row("O-1"),
            account_row("O-2", balance=None, phone=None, lat=None, lon=None),
            account_row("O-3", postal_code="06600", days=None),
        ]
        report = await upload(ingest_client, key, csv_bytes(rows), "cartera.csv")
        stored = await outbox_rows(tenant.tenant_id)
        assert len(stored) == 3
        for row in stored:
            event = AccountUpserted.model_validate(row.data)
            assert row.subject == row.key == str(event.account_id)
            assert row.source == "/ingest"
            account = (
                await ingest_client.get(
                    f"/accounts/{event.account_key}", headers={"X-API-Key": key}
                )
            ).json()
            assert str(event.account_id) == account["account_id"]
            assert str(event.upload_id) == report["upload_id"]
            assert event.address == Address.model_validate(account["address"])
            assert event.debtor_name == account["debtor_name"]
            assert event.phone == account["phone"]
            expected_balance = (
                None
                if account["balance_overdue"] is None
                else Money(amount=account["balance_overdue"], currency="MXN")
            )
            assert event.balance_overdue == expected_balance
            assert event.days_past_due == account["days_past_due"]
            if account["location"] is None:
                assert event.location is None
            else:
                assert event.location.model_dump() == account["location"]
            assert event.created is True

    @pytest.mark.parametrize("file_format", ["csv", "xlsx"])
    async def test_events_equal_python_reference(
        self, ingest_client, tenant, file_format
    ):
        key = tenant.api_key.key
        write = csv_bytes if file_format == "csv" else xlsx_bytes
        rows = [
            account_row("R-1"),
            account_row("R-2", balance="$1234.5", phone="33 1234 5678"),
            account_row("R-3", balance=None, days=None, phone=None),
            # No coordinates: the gazetteer places it by municipality.
            account_row(
                "R-4",
                lat=None,
                lon=None,
                municipality="Zapopan",
                state="Jalisco",
                postal_code=45010,
            ),
            account_row(
                "R-5",
                lat=None,
                lon=None,
                colonia="Sin Nombre",
                municipality="Nowhere",
                state="Nowhere",
            ),
            account_row("R-6", balance=0.1, lat=20.123456789, lon=-103.987654321),
        ]
        for round_number, created in ((1, True), (2, False)):
            if round_number == 2:
                rows = [[*row[:2], 99.99, *row[3:]] for row in rows]
            content = write(rows)
            report = await upload(ingest_client, key, content, f"cartera.{file_format}")
            written = [
                row
                for row in await outbox_rows(tenant.tenant_id)
                if row.data["upload_id"] == report["upload_id"]
            ]
            assert len(written) == len(rows)
            account_ids = {
                row.data["account_key"]: uuid.UUID(row.data["account_id"])
                for row in written
            }
            expected = await reference_events(
                tenant.tenant_id, report["upload_id"], content, account_ids, created
            )
            for row in written:
                AccountUpserted.model_validate(row.data)
                assert row.data == expected[row.data["account_key"]]
                assert row.event_type == AccountUpserted.event_type
                assert row.subject == row.key == row.data["account_id"]

    async def test_bulk_insert_equals_single_insert(self, tenant):
        settings = IngestSettings()
        payload = AccountUpserted(
            tenant_id=tenant.tenant_id,
            account_id=uuid.uuid4(),
            account_key="B-1",
            debtor_name="Rosa Martínez",
            balance_overdue=Money(amount="10.50", currency="MXN"),
            address=Address(street="Calle 5", postal_code="06600"),
            created=True,
        )
        engine = create_engine(settings.database_url, pool_size=1)
        try:
            async with create_sessionmaker(engine)() as session, session.begin():
                await add_event(
                    session, common, payload, source="/ingest", settings=settings
                )
                written = await add_events(
                    session, common, [payload], source="/ingest", settings=settings
                )
                assert written == 1
                rows = (
                    await session.execute(
                        select(common.outbox)
                        .where(common.outbox.c.subject == str(payload.account_id))
                        .order_by(common.outbox.c.seq)
                    )
                ).all()
        finally:
            await engine.dispose()
        single, bulk = (row._asdict() for row in rows)
        assert single["event_id"] != bulk["event_id"]
        for column in ("event_id", "seq", "event_time", "created_at"):
            single.pop(column)
            bulk.pop(column)
        assert single == bulk


class TestPartialReupload:
    async def test_absent_columns_keep_stored_values(self, ingest_client, tenant):
        key = tenant.api_key.key
        headers = {"X-API-Key": key}
        await upload(ingest_client, key, hostile_files.full_account_csv("OW1"), "a.csv")
        before = (await ingest_client.get("/accounts/OW1", headers=headers)).json()
        second = await upload(
            ingest_client, key, hostile_files.short_account_csv("OW1"), "b.csv"
        )
        after = (await ingest_client.get("/accounts/OW1", headers=headers)).json()

        assert second["accounts_updated"] == 1
        assert after["balance_overdue"] == "1600.00"
        assert after["phone"] == before["phone"] == "+525512345678"
        assert after["birth_date"] == "1985-06-15"
        assert after["days_past_due"] == 45
        assert after["address"]["street"] == "Av. Insurgentes Sur 1234"
        assert after["address"]["postal_code"] == "03100"
        assert after["extra"] == before["extra"]
        assert after["location"] == before["location"]
        assert after["location_source"] == "file"
        [event] = await read_events(
            topics.ACCOUNTS,
            count=1,
            where=lambda e: e.data["upload_id"] == second["upload_id"],
        )
        assert event.data["phone"] == "+525512345678"
        assert event.data["address"]["street"] == "Av. Insurgentes Sur 1234"
        assert event.data["location_source"] == "file"

    async def test_history_shows_only_merged_changes(self, ingest_client, tenant):
        key = tenant.api_key.key
        headers = {"X-API-Key": key}
        await upload(ingest_client, key, hostile_files.full_account_csv("OW2"), "a.csv")
        await upload(
            ingest_client, key, hostile_files.short_account_csv("OW2"), "b.csv"
        )
        history = await ingest_client.get("/accounts/OW2/history", headers=headers)

        assert history.status_code == 200, history.text
        changed = [set(entry["changes"]) for entry in history.json()["items"]]
        assert {"balance_overdue"} in changed
        assert not any("phone" in fields for fields in changed)

    async def test_bad_phone_keeps_stored_phone(self, ingest_client, tenant):
        key = tenant.api_key.key
        headers = {"X-API-Key": key}
        await upload(ingest_client, key, hostile_files.full_account_csv("OW3"), "a.csv")
        second = await upload(
            ingest_client,
            key,
            hostile_files.short_account_csv("OW3", phone="123"),
            "b.csv",
        )
        after = (await ingest_client.get("/accounts/OW3", headers=headers)).json()

        assert after["phone"] == "+525512345678"
        [warning] = [e for e in second["errors"] if e["column"] == "phone"]
        assert "stored value is kept" in warning["message"]

    async def test_empty_cell_clears_stored_value(self, ingest_client, tenant):
        key = tenant.api_key.key
        headers = {"X-API-Key": key}
        await upload(ingest_client, key, hostile_files.full_account_csv("OW4"), "a.csv")
        await upload(
            ingest_client,
            key,
            hostile_files.short_account_csv("OW4", phone=""),
            "b.csv",
        )
        after = (await ingest_client.get("/accounts/OW4", headers=headers)).json()

        assert after["phone"] is None
        assert after["birth_date"] == "1985-06-15"

    async def test_extras_merge(self, ingest_client, tenant):
        key = tenant.api_key.key
        headers = {"X-API-Key": key}
        await upload(ingest_client, key, hostile_files.full_account_csv("OW5"), "a.csv")
        before = (await ingest_client.get("/accounts/OW5", headers=headers)).json()
        await upload(
            ingest_client,
            key,
            hostile_files.short_account_csv("OW5", notes="Llamar tarde"),
            "b.csv",
        )
        after = (await ingest_client.get("/accounts/OW5", headers=headers)).json()

        assert after["extra"] == {**before["extra"], "Notas": "Llamar tarde"}

    async def test_changed_address_replaces_file_location(self, ingest_client, tenant):
        key = tenant.api_key.key
        headers = {"X-API-Key": key}
        await upload(ingest_client, key, hostile_files.full_account_csv("OW6"), "a.csv")
        await upload(
            ingest_client,
            key,
            hostile_files.short_account_csv("OW6", colonia="Narvarte Poniente"),
            "b.csv",
        )
        after = (await ingest_client.get("/accounts/OW6", headers=headers)).json()

        assert after["address"]["colonia"] == "Narvarte Poniente"
        assert after["location_source"] != "file"
