"""Portfolios with known values, and campaign bodies, for ingest's tests."""

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from tests.fixtures.portfolios import account_row, xlsx_bytes

QUESTIONS = {
    "type": "object",
    "properties": {"works": {"type": "boolean", "title": "¿El titular trabaja?"}},
    "required": ["works"],
}
VALID_CLABE = "002010077777777771"

# Column positions in `tests.fixtures.portfolios.HEADERS`.
MUNICIPALITY_COLUMN = 9
STATE_COLUMN = 10


def place_row(
    key: str, *, municipality: str, state: str, **fields: Any
) -> list[object]:
    row = account_row(key, **fields)
    row[MUNICIPALITY_COLUMN] = municipality
    row[STATE_COLUMN] = state
    return row


async def upload_rows(
    client: httpx.AsyncClient, api_key: str, rows: list[list[object]]
) -> None:
    response = await client.post(
        "/uploads",
        headers={"X-API-Key": api_key},
        files={"file": ("cartera.xlsx", xlsx_bytes(rows))},
    )
    assert response.status_code == 201, response.text
    assert response.json()["rows_invalid"] == 0, response.text


def brief_body(**selection: Any) -> dict[str, Any]:
    return {
        "name": "Cartera Jalisco",
        "objective": {"kind": "negotiate", "details": "Negociar el saldo vencido"},
        "questions": QUESTIONS,
        "negotiation": {
            "max_discount_pct": "20",
            "installment_counts": [6, 3],
            "min_down_payment": {"percent_of_balance": "10"},
            "latest_promise_date": (
                datetime.now(UTC).date() + timedelta(days=30)
            ).isoformat(),
        },
        "creditor": {
            "creditor_name": "Financiera Ejemplo",
            "agency_name": "Cobranza Norte",
            "phone": "+523312345678",
            "payment": {"bank": "Banamex", "clabe": VALID_CLABE, "reference": "R-9"},
        },
        "fee_amount": "150.00",
        "deadline": (datetime.now(UTC) + timedelta(days=3)).isoformat(),
        "selection": selection or {"all_accounts": True},
    }
