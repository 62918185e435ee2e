"""Upload error reports and ingest's logs carry no debtor's name, phone or address."""

import logging
from collections.abc import AsyncIterator

import httpx
import pytest

from ingest.app import create_app
from ingest.uploads.issue_values import WITHHELD
from tests.fixtures.apps import running_app
from tests.fixtures.portfolios import account_row, csv_bytes
from tests.fixtures.tenants import make_tenant

NAME = "Herminia Zacarías Quintanilla " * 12
PHONE = "4499"


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with running_app(create_app()) as running:
        yield running


def rows() -> list[list[object]]:
    return [
        account_row("EV-1", name=NAME.strip()),
        account_row("EV-2", phone=PHONE),
        account_row("EV-3", lat="Quintanilla norte", lon="-99.1"),
        account_row("EV-4", balance="mil pesos"),
        account_row("EV-5"),
    ]


async def test_report_shows_where_and_why_not_who(
    client, caplog: pytest.LogCaptureFixture
) -> None:
    api_key = (await make_tenant()).api_key.key
    caplog.set_level(logging.DEBUG)
    response = await client.post(
        "/uploads",
        headers={"X-API-Key": api_key},
        files={"file": ("cartera.csv", csv_bytes(rows()))},
    )
    assert response.status_code == 201, response.text
    listed = await client.get(
        f"/uploads/{response.json()['upload_id']}/errors",
        headers={"X-API-Key": api_key},
    )

    errors = {error["column"]: error for error in listed.json()["items"]}
    assert errors["debtor_name"]["row"] == 2
    assert errors["debtor_name"]["value"].startswith("H*** Z*** Q***")
    assert "characters long" in errors["debtor_name"]["message"]
    assert errors["phone"]["value"] == "**99"
    assert errors["latitude"]["value"] == WITHHELD
    assert errors["balance_overdue"]["value"] == "mil pesos"
    assert "Quintanilla" not in listed.text + response.text
    assert PHONE not in listed.text + response.text

    events = [record.msg for record in caplog.records]
    logged = repr(events) + caplog.text
    upload_events = [e for e in events if "upload." in str(e)]
    assert upload_events, "the upload logged nothing, so the check below proves nothing"
    for personal in ("Herminia", "Quintanilla", PHONE, "Insurgentes", "Del Valle"):
        assert personal not in logged
