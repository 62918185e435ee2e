import pytest
from pydantic import BaseModel, ValidationError

from shared.schemas import CurrencyCode, currency_problem


class Priced(BaseModel):
    currency: CurrencyCode


@pytest.mark.parametrize("code", ["MXN", "USD", "COP", "GTQ", "XOF", "MXV"])
def test_currency_in_use_accepted(code):
    assert currency_problem(code) is None
    assert Priced(currency=code).currency == code


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("XXX", "XXX is not an ISO 4217 currency in use"),
        ("XAU", "XAU is not an ISO 4217 currency in use"),
        ("XTS", "XTS is not an ISO 4217 currency in use"),
        ("ABC", "ABC is not an ISO 4217 currency in use"),
        ("mxn", "'mxn' is not a currency code"),
        ("MX", "'MX' is not a currency code"),
        ("MXÑ", "'MXÑ' is not a currency code"),
    ],
)
def test_not_money_rejected(code, expected):
    with pytest.raises(ValidationError) as raised:
        Priced(currency=code)

    assert expected in str(raised.value)
