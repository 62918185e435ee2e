"""Names and phones masked for callers without personal:read."""

import uuid

import pytest

from shared.auth import Tenant
from shared.masking import (
    coarse_coordinate,
    mask_address_lines,
    mask_document,
    mask_name,
    mask_phone,
    shows_personal_data,
)
from shared.permissions import DEFAULT_KEY_SCOPES, ROLE_SCOPES, Role, Scope


@pytest.mark.parametrize(
    ("name", "masked"),
    [
        ("Juan Pérez", "J*** P***"),
        ("  María  de la Luz ", "M*** d*** l*** L***"),
        ("", "***"),
        (None, None),
    ],
)
def test_name_keeps_initials_only(name: str | None, masked: str | None) -> None:
    assert mask_name(name) == masked


@pytest.mark.parametrize(
    ("phone", "masked"),
    [
        ("+52 55 1234 5678", "+52 55 **** **78"),
        ("+525512345678", "+5255******78"),
        ("12345", "***45"),
        (None, None),
    ],
)
def test_phone_keeps_prefix_and_last_two(phone: str | None, masked: str | None) -> None:
    assert mask_phone(phone) == masked


def test_document_masks_known_keys_at_any_depth() -> None:
    document = {
        "visit_id": "v-1",
        "new_phone": "+525512345678",
        "notes": "sin novedad",
        "contact_update": {"phones": [{"number": "+525598765432", "kind": "home"}]},
        "account": {"debtor_name": "Juan Pérez"},
        "address": {"street": "Av. Juárez", "postal_code": "06600", "state": "CDMX"},
        "location": {"lat": 19.432608, "lon": -99.133209},
    }

    masked = mask_document(document)

    assert masked["new_phone"] == "+5255******78"
    assert masked["contact_update"]["phones"][0] == {
        "number": "+5255******32",
        "kind": "home",
    }
    assert masked["account"]["debtor_name"] == "J*** P***"
    assert masked["notes"] == "***"
    assert masked["address"] == {
        "street": "***",
        "postal_code": "06600",
        "state": "CDMX",
    }
    assert masked["location"] == {"lat": 19.43, "lon": -99.13}
    assert masked["visit_id"] == "v-1"


def test_address_keeps_its_zone_only() -> None:
    address = {
        "street": "Av. Insurgentes Sur",
        "exterior_number": "1234",
        "interior_number": "4B",
        "colonia": "Del Valle",
        "cross_streets": "entre Félix Cuevas y Parroquia",
        "address_references": "portón verde",
        "postal_code": "03100",
        "municipality": "Benito Juárez",
        "state": "Ciudad de México",
    }

    masked = mask_address_lines(address)

    assert {key for key, value in masked.items() if value == "***"} == {
        "street",
        "exterior_number",
        "interior_number",
        "colonia",
        "cross_streets",
        "address_references",
    }
    assert masked["postal_code"] == "03100"
    assert masked["municipality"] == "Benito Juárez"
    assert masked["state"] == "Ciudad de México"
    assert mask_address_lines({"street": None}) == {"street": None}


def test_coordinates_rounded_to_a_kilometre() -> None:
    assert coarse_coordinate(19.432608) == 19.43
    assert coarse_coordinate(None) is None


@pytest.mark.parametrize(
    ("scopes", "full"),
    [
        (ROLE_SCOPES[Role.TENANT_ADMIN], True),
        (ROLE_SCOPES[Role.DIRECTOR], True),
        (ROLE_SCOPES[Role.ANALYST], False),
        (DEFAULT_KEY_SCOPES, True),
        (frozenset({Scope.RESULTS_READ}), False),
    ],
)
def test_who_sees_personal_data(scopes: frozenset[Scope], full: bool) -> None:
    tenant = Tenant(tenant_id=uuid.uuid4(), key_id=uuid.uuid4(), scopes=scopes)

    assert shows_personal_data(tenant) is full
