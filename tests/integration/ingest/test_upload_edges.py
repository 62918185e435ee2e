"""Upload edges of the chunked store that once lost data or returned 500.

Keys that only the database's lower() folds together, the row limit, two
uploads whose final statements overlap, and what the error report echoes
back from the file.
"""

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import asyncpg
import httpx
import pytest

from ingest.app import create_app
from ingest.settings import IngestSettings
from ingest.uploads import repository
from tests.fixtures.apps import running_app
from tests.fixtures.portfolios import account_row, csv_bytes
from tests.fixtures.tenants import make_tenant

Store = Callable[..., Awaitable[repository.StoreCounts]]


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with running_app(create_app()) as running:
        yield running


@pytest.fixture
async def api_key() -> str:
    return (await make_tenant()).api_key.key


async def post_csv(
    client: httpx.AsyncClient,
    api_key: str,
    content: bytes,
    *,
    name: str = "cartera.csv",
) -> httpx.Response:
    return await client.post(
        "/uploads",
        headers={"X-API-Key": api_key},
        files={"file": (name, content)},
    )


def plain_csv(header: list[str], rows: list[list[str]]) -> bytes:
    lines = [",".join(header), *(",".join(row) for row in rows)]
    return ("\r\n".join(lines) + "\r\n").encode()


async def database() -> asyncpg.Connection:
    url = IngestSettings().database_url.replace(
        "postgresql+asyncpg://", "postgresql://"
    )
    return await asyncpg.connect(url)


async def wait_for_lock_waiter(connection: asyncpg.Connection) -> None:
    """Return once another backend of this database waits on a row lock."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        waiting = await connection.fetchval(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
            "AND wait_event_type = 'Lock' AND pid <> pg_backend_pid()"
        )
        if waiting:
            return
        await asyncio.sleep(0.02)
    raise AssertionError("no upload waited on the other's rows within 30 s")


class TestKeysTheDatabaseFolds:
    """Python's lower() and PostgreSQL's lower() disagree on a few letters.

    `İ` lowers to `i̇` in Python and to `i` in PostgreSQL, and Python lowers a
    final capital sigma to `ς` where PostgreSQL gives `σ`. The unique index
    uses PostgreSQL's, so such keys in one file are one account there.
    """

    @pytest.mark.parametrize(("first", "second"), [("İ1", "i1"), ("ΑΣ1", "ασ1")])
    async def test_folded_pair_in_file_is_repeat(self, client, api_key, first, second):
        content = csv_bytes([account_row(first), account_row(second)])

        response = await post_csv(client, api_key, content)

        assert response.status_code == 201, response.text
        body = response.json()
        assert body["accounts_created"] == 1
        assert [issue["row"] for issue in body["errors"]] == [3]

    async def test_folded_pair_in_bulk_call(self, client, api_key):
        response = await client.post(
            "/accounts/bulk",
            headers={"X-API-Key": api_key},
            json={
                "accounts": [
                    {"account_key": "İ7", "debtor_name": "Ana"},
                    {"account_key": "i7", "debtor_name": "Beto"},
                ]
            },
        )

        assert response.status_code < 500, response.text


async def test_row_limit_counts_data_rows(
    api_key: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("INGEST_MAX_UPLOAD_ROWS", "5")
    rows = [account_row(f"LIM-{number}") for number in range(6)]
    async with running_app(create_app()) as client:
        response = await post_csv(client, api_key, csv_bytes(rows))
        stored = await client.get("/accounts/LIM-0", headers={"X-API-Key": api_key})

    # The message states a limit of 5 data rows, so a file of 6 is rejected.
    assert response.status_code == 422, response.text
    assert "the limit is 5 data rows" in response.json()["detail"]
    assert stored.status_code == 404


class TestOverlappingUploads:
    async def test_concurrent_balance_update_keeps_address(
        self, client, api_key, monkeypatch
    ):
        """A file without address columns leaves the stored address alone.

        Here the full file's final statement has inserted the accounts but
        not committed when the balance file's statement starts.
        """
        full = csv_bytes([account_row(f"OV-{number}") for number in range(3)])
        balance_only = plain_csv(
            ["No. de Crédito", "Nombre del Titular", "Saldo Vencido"],
            [["OV-0", "María Guadalupe Hernández", "999.00"]],
        )
        real_store: Store = repository.store_staged
        full_stored = asyncio.Event()
        watcher = await database()

        async def store_in_turn(*args: Any, **kwargs: Any) -> repository.StoreCounts:
            if kwargs["staged"] == 3:
                counts = await real_store(*args, **kwargs)
                full_stored.set()
                # Commit only once the balance file's statement waits on our rows.
                await wait_for_lock_waiter(watcher)
                return counts
            await full_stored.wait()
            return await real_store(*args, **kwargs)

        monkeypatch.setattr(repository, "store_staged", store_in_turn)
        try:
            first, second = await asyncio.gather(
                post_csv(client, api_key, full, name="completa.csv"),
                post_csv(client, api_key, balance_only, name="saldos.csv"),
            )
        finally:
            await watcher.close()
        assert first.status_code == 201, first.text
        assert second.status_code == 201, second.text

        account = (
            await client.get("/accounts/OV-0", headers={"X-API-Key": api_key})
        ).json()
        assert account["balance_overdue"] == "999.00"
        assert account["address"]["street"] == "Av. Insurgentes Sur"
        assert account["address"]["colonia"] == "Del Valle"
        assert account["phone"] == "+525512345678"
        assert account["location"] is not None

    async def test_opposite_case_keys_no_deadlock(self, client):
        """Both files add the same accounts, one spelling `k1`, the other `K1`.

        Each statement inserts in the order of its own spelling (`K…` before
        `Z…` before `k…`), while the unique index compares in lower case, so
        the two take the same row locks in opposite orders. A third
        transaction holds the keys `Z-1` and `Z-2` until both statements have
        locked their `K…` rows and wait on it, then lets them go on.
        """
        tenant = await make_tenant()
        count = 20
        header = ["No. de Crédito", "Nombre del Titular", "Saldo Vencido"]
        first = plain_csv(
            header,
            [["Z-1", "Ana", "1.00"]]
            + [[f"{'K' if n % 2 else 'k'}{n}", "Ana", "1.00"] for n in range(count)],
        )
        second = plain_csv(
            header,
            [["Z-2", "Ana", "2.00"]]
            + [[f"{'k' if n % 2 else 'K'}{n}", "Ana", "2.00"] for n in range(count)],
        )
        holder = await database()
        watcher = await database()
        holding = holder.transaction()
        await holding.start()
        await holder.execute(
            "INSERT INTO ingest.accounts (account_id, tenant_id, account_key, "
            "debtor_name, currency, extra) SELECT gen_random_uuid(), $1, key, "
            "'Ana', 'MXN', '{}' FROM unnest($2::text[]) key",
            tenant.tenant_id,
            ["Z-1", "Z-2"],
        )

        async def release_when_both_wait() -> None:
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                waiting = await watcher.fetchval(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = "
                    "current_database() AND wait_event_type = 'Lock'"
                )
                if waiting >= 2:
                    break
                await asyncio.sleep(0.02)
            await holding.rollback()

        key = tenant.api_key.key
        try:
            *responses, _ = await asyncio.gather(
                post_csv(client, key, first, name="minusculas.csv"),
                post_csv(client, key, second, name="mayusculas.csv"),
                release_when_both_wait(),
                return_exceptions=True,
            )
        finally:
            await holder.close()
            await watcher.close()

        for response in responses:
            assert isinstance(response, httpx.Response), repr(response)
            assert response.status_code == 201, response.text
        created = sum(response.json()["accounts_created"] for response in responses)
        assert created == count + 2


class TestReportEchoesTheFile:
    async def test_csv_report_quotes_formula_headers(self, client, api_key):
        content = plain_csv(
            [
                "No. de Crédito",
                "Nombre del Titular",
                "Saldo Vencido",
                '"=HYPERLINK(""http://127.0.0.1/x"",""Ver"")"',
                "@SUM(1+1)",
            ],
            [["F-1", "Ana", "1.234", "a", "b"]],
        )
        upload = (await post_csv(client, api_key, content)).json()

        response = await client.get(
            f"/uploads/{upload['upload_id']}/report.csv",
            headers={"X-API-Key": api_key},
        )

        assert response.status_code == 200
        header = response.content.decode("utf-8-sig").splitlines()[0]
        assert ",=" not in header, header
        assert ',"=' not in header, header
        assert ",@" not in header, header

    @pytest.mark.parametrize("name", ["a\x7fb.csv", "a\x01b.csv"])
    async def test_report_filename_header_is_printable(self, client, api_key, name):
        content = csv_bytes([account_row("FN-1", balance="no sé")])
        # Sent as raw bytes, as a client that does not escape the name would.
        body = (
            b'--XyZ\r\nContent-Disposition: form-data; name="file"; filename="'
            + name.encode()
            + b'"\r\nContent-Type: text/csv\r\n\r\n'
            + content
            + b"\r\n--XyZ--\r\n"
        )
        uploaded = await client.post(
            "/uploads",
            content=body,
            headers={
                "X-API-Key": api_key,
                "Content-Type": "multipart/form-data; boundary=XyZ",
            },
        )
        assert uploaded.status_code == 201, uploaded.text

        response = await client.get(
            f"/uploads/{uploaded.json()['upload_id']}/report.csv",
            headers={"X-API-Key": api_key},
        )

        assert response.status_code == 200
        disposition = response.headers["content-disposition"]
        # uvicorn rejects a header value with a control character and closes
        # the connection without a response.
        assert all(" " <= char <= "~" for char in disposition), repr(disposition)
