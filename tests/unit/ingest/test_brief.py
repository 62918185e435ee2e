import pytest
from pydantic import ValidationError

from ingest.campaigns.brief import (
    CreditorIn,
    NegotiationIn,
    PaymentReferenceIn,
    clabe_control_digit,
)
from ingest.campaigns.states import CANCEL, LAUNCH, describe_sources


class TestClabe:
    def test_control_digit_of_known_clabe(self) -> None:
        assert clabe_control_digit("00201007777777777") == 1

    def test_spaces_are_removed(self) -> None:
        reference = PaymentReferenceIn(bank="Banamex", clabe="002 010 07777777777 1")

        assert reference.clabe == "002010077777777771"

    @pytest.mark.parametrize("digit", "023456789")
    def test_other_control_digits_rejected(self, digit: str) -> None:
        with pytest.raises(ValidationError, match="wrong control digit"):
            PaymentReferenceIn(bank="Banamex", clabe="00201007777777777" + digit)

    @pytest.mark.parametrize(
        "clabe", ["002010077777777771\n", "\u0660\u0660\u0662010077777777771"]
    )
    def test_non_ascii_or_trailing_newline_rejected(self, clabe: str) -> None:
        with pytest.raises(ValidationError, match="18 digits"):
            PaymentReferenceIn(bank="Banamex", clabe=clabe)


class TestCreditorPhone:
    def test_e164_accepted(self) -> None:
        assert CreditorIn(creditor_name="Banco", phone="+525512345678").phone

    @pytest.mark.parametrize("phone", ["+525512345678\n", "+５２５５１２３４５６７８"])
    def test_non_ascii_or_trailing_newline_rejected(self, phone: str) -> None:
        with pytest.raises(ValidationError, match=r"E\.164"):
            CreditorIn(creditor_name="Banco", phone=phone)


class TestNegotiation:
    def test_installment_counts_sorted(self) -> None:
        policy = NegotiationIn(max_discount_pct=10, installment_counts=[12, 3, 6])

        assert policy.installment_counts == [3, 6, 12]


class TestStates:
    def test_one_source_named(self) -> None:
        assert describe_sources(LAUNCH) == "a draft campaign"

    def test_several_sources_named(self) -> None:
        assert describe_sources(CANCEL) == "a draft, launched or paused campaign"
