"""Uploads stored a chunk at a time give what one pass over the file gives.

The chunk size is cut to a few rows here, so that repeated keys, late
issues, the error policy and the counts all cross chunk boundaries.
"""

from collections.abc import AsyncIterator

import httpx
import pytest

from ingest.app import create_app
from ingest.uploads import service
from tests.fixtures.apps import running_app
from tests.fixtures.portfolios import account_row, csv_bytes, xlsx_bytes
from tests.fixtures.tenants import make_tenant

CHUNK = 3


@pytest.fixture
async def client(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[httpx.AsyncClient]:
    monkeypatch.setattr(service, "CHUNK_ROWS", CHUNK)
    async with running_app(create_app()) as running:
        yield running


@pytest.fixture
async def api_key() -> str:
    return (await make_tenant()).api_key.key


def unplaceable(key: str) -> list[object]:
    return account_row(
        key, colonia=None, municipality=None, state=None, lat=None, lon=None
    )


def portfolio() -> list[list[object]]:
    """Eleven rows over four chunks: repeats, an error and a late warning."""
    return [
        account_row("C-1"),
        account_row("C-2"),
        account_row("C-3"),
        # Second chunk: a repeat of a first-chunk key in another case, and
        # an address that cannot be placed.
        account_row("c-1", phone="55 9876 5432"),
        unplaceable("C-5"),
        account_row("C-6", balance="no sé"),
        # Third chunk: a repeat within the chunk and one of the second chunk.
        account_row("C-7"),
        account_row("C-7"),
        account_row("C-5"),
        # Fourth chunk.
        account_row("C-10"),
        account_row("C-11"),
    ]


async def upload(
    client: httpx.AsyncClient,
    api_key: str,
    content: bytes,
    params: dict[str, str] | None = None,
) -> dict:
    response = await client.post(
        "/uploads",
        params=params,
        headers={"X-API-Key": api_key},
        files={"file": ("cartera.csv", content)},
    )
    assert response.status_code == 201, response.text
    body: dict = response.json()
    return body


class TestChunkedUpload:
    async def test_counts_and_errors_cross_chunks(self, client, api_key):
        body = await upload(client, api_key, csv_bytes(portfolio()))

        assert body["status"] == "completed"
        assert body["rows_total"] == 11
        # C-1, C-2, C-3, C-5, C-7, C-10 and C-11; C-6 has no balance.
        assert body["rows_valid"] == 7
        assert body["rows_invalid"] == 4
        assert body["accounts_created"] == 7
        errors = {
            (issue["row"], issue["column"]): issue["message"]
            for issue in body["errors"]
            if issue["severity"] == "error"
        }
        assert sorted(row for row, _ in errors) == [5, 7, 9, 10]
        assert "C-1 on row 2 when case is ignored" in errors[(5, "account_key")]
        assert "already appears on row 8" in errors[(9, "account_key")]
        assert "already appears on row 6" in errors[(10, "account_key")]
        warnings = [
            issue["row"] for issue in body["errors"] if issue["severity"] == "warning"
        ]
        assert 6 in warnings

    async def test_first_row_of_a_key_is_stored(self, client, api_key):
        await upload(client, api_key, csv_bytes(portfolio()))

        stored = await client.get("/accounts/C-1", headers={"X-API-Key": api_key})
        assert stored.status_code == 200
        assert stored.json()["account_key"] == "C-1"
        assert stored.json()["phone"] != "+525598765432"

    async def test_report_keeps_cells_of_late_issues(self, client, api_key):
        body = await upload(client, api_key, csv_bytes(portfolio()))

        response = await client.get(
            f"/uploads/{body['upload_id']}/report.csv",
            headers={"X-API-Key": api_key},
        )

        assert response.status_code == 200
        lines = response.content.decode("utf-8-sig").splitlines()
        rows = {line.split(",")[0]: line for line in lines if line[:1].isdigit()}
        assert sorted(rows, key=int) == ["5", "6", "7", "9", "10"]
        assert rows["5"].startswith("5,c-1,")
        assert "55 9876 5432" in rows["5"]
        assert rows["6"].startswith("6,C-5,")
        assert rows["9"].startswith("9,C-7,")

    async def test_reject_all_stores_nothing_for_a_late_error(self, client, api_key):
        rows = [account_row(f"R-{number}") for number in range(1, 10)]
        rows.append(account_row("R-1"))
        body = await upload(
            client, api_key, csv_bytes(rows), params={"on_error": "reject_all"}
        )

        assert body["status"] == "rejected"
        assert body["rows_valid"] == 9
        assert body["accounts_created"] == 0
        stored = await client.get("/accounts/R-1", headers={"X-API-Key": api_key})
        assert stored.status_code == 404

    async def test_xlsx_stored_the_same_way(self, client, api_key):
        body = await upload(client, api_key, xlsx_bytes(portfolio()))

        assert body["rows_total"] == 11
        assert body["rows_valid"] == 7
        assert body["accounts_created"] == 7


async def test_row_limit_past_first_chunk_stores_nothing(
    api_key: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(service, "CHUNK_ROWS", CHUNK)
    monkeypatch.setenv("INGEST_MAX_UPLOAD_ROWS", "5")
    # The sixth data row breaks the limit; it is read in the second chunk,
    # after the first chunk is staged.
    rows = [account_row(f"L-{number}") for number in range(40)]
    async with running_app(create_app()) as client:
        response = await client.post(
            "/uploads",
            headers={"X-API-Key": api_key},
            files={"file": ("cartera.csv", csv_bytes(rows))},
        )
        stored = await client.get("/accounts/L-0", headers={"X-API-Key": api_key})
        listed = await client.get("/uploads", headers={"X-API-Key": api_key})

    assert response.status_code == 422, response.text
    assert "the limit is 5 data rows" in response.json()["detail"]
    assert stored.status_code == 404
    assert listed.json()["items"] == []


async def test_keys_the_database_folds_are_unstaged(
    api_key: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # With Python's comparison switched off, only the database's lower()
    # finds that `Ñ-1` and `ñ-1` are one account, as it would for a letter
    # that the two fold differently.
    monkeypatch.setattr(service, "key_form", lambda key: key)
    rows = [account_row("Ñ-1"), account_row("B-2"), account_row("ñ-1")]
    async with running_app(create_app()) as client:
        body = await upload(client, api_key, csv_bytes(rows))

    assert body["status"] == "completed"
    assert body["rows_valid"] == 2
    assert body["accounts_created"] == 2
    [error] = [issue for issue in body["errors"] if issue["severity"] == "error"]
    assert error["row"] == 4
    assert "is account Ñ-1 on row 2 when case is ignored" in error["message"]
