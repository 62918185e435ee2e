"""The columns of a campaign export and the cells of one visit's row.

Both the CSV and the XLSX writer take the cells built here, so the two files
always agree. Text is neutralised against formula injection here, once. A
spreadsheet runs a cell that starts with `=`, `+`, `-` or `@` as a formula,
and some treat a leading tab or carriage return the same way. So such text
gets a leading single quote, as OWASP's CSV injection page advises. Numbers
stay numbers.
"""

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Literal
from zoneinfo import ZoneInfo

from shared.masking import (
    MASK,
    coarse_coordinate,
    mask_name,
    mask_phone,
    mask_phones,
    mask_text,
)

Cell = str | int | float | Decimal | datetime | date | None
Kind = Literal["text", "number", "money", "datetime", "date"]

FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")


@dataclass(frozen=True)
class Column:
    header: str
    kind: Kind
    width: int = 14


COLUMNS: tuple[Column, ...] = (
    Column("Cuenta", "text"),
    Column("Deudor", "text", 28),
    Column("Dirección", "text", 40),
    Column("Estado", "text"),
    Column("Agente", "text", 38),
    Column("Fecha de solicitud", "datetime", 17),
    Column("Fecha de visita", "datetime", 17),
    Column("Fecha del resultado", "datetime", 17),
    Column("Resultado", "text", 18),
    Column("Persona contactada", "text", 16),
    Column("Contacto", "text", 10),
    Column("Vive en el domicilio", "text", 10),
    Column("Promesa: monto", "money"),
    Column("Promesa: moneda", "text", 10),
    Column("Promesa: fecha", "date", 12),
    Column("Teléfonos nuevos", "text", 36),
    Column("Notas", "text", 40),
    Column("Latitud", "number", 11),
    Column("Longitud", "number", 11),
    Column("Distancia al domicilio (m)", "number", 12),
    Column("Precisión GPS (m)", "number", 10),
    Column("Check-in verificado", "text", 10),
    Column("Latitud del domicilio", "number", 11),
    Column("Longitud del domicilio", "number", 11),
    Column("Marcada por fraude", "text", 10),
    Column("Motivo de cancelación", "text", 16),
    Column("Evidencias", "text", 60),
    Column("Visita", "text", 38),
)

HEADERS: tuple[str, ...] = tuple(column.header for column in COLUMNS)

STATES = {
    "requested": "Solicitada",
    "assigned": "Asignada",
    "checked_in": "En visita",
    "completed": "Completada",
    "out_of_coverage": "Fuera de cobertura",
    "expired": "Vencida",
    "cancelled": "Cancelada",
}
PEOPLE = {
    "debtor": "Deudor",
    "guarantor": "Aval",
    "other_person": "Otra persona",
    "nobody": "Nadie",
}
PHONE_KINDS = {"mobile": "celular", "home": "casa", "work": "trabajo"}
RELATIONS = {
    "self": "titular",
    "guarantor": "aval",
    "co_obligor": "coacreditado",
    "spouse": "cónyuge",
    "relative": "familiar",
    "neighbour": "vecino",
    "employer": "empleador",
    "coworker": "compañero de trabajo",
}
CANCEL_REASONS = {
    "campaign_paused": "campaña en pausa",
    "campaign_cancelled": "campaña cancelada",
    "campaign_completed": "campaña terminada",
    "account_recalled": "cuenta retirada",
    "do_not_contact": "no contactar",
    "do_not_visit": "no visitar",
}


@dataclass(frozen=True)
class RowContext:
    """Settings that turn a stored visit into cells, beyond the row itself."""

    zone: ZoneInfo
    photo_base_url: str
    # True for a caller without personal:read: names, phones, street lines
    # and notes masked, coordinates rounded to about a kilometre.
    mask_personal: bool = False


def neutralise(text: str) -> str:
    """Return text that no spreadsheet will read as a formula."""
    return "'" + text if text.startswith(FORMULA_TRIGGERS) else text


def visit_cells(row: Mapping[str, Any], context: RowContext) -> list[Cell]:
    """Return one visit's cells, in the order of COLUMNS."""
    local = _local_time(context.zone)
    if context.mask_personal:
        row = _masked_row(row)
    cells: list[Cell] = [
        row["account_key"],
        row["debtor_name"],
        row["address"],
        STATES.get(row["state"], row["state"]),
        _text_id(row["agent_id"]),
        local(row["requested_at"]),
        local(row["first_check_in_at"]),
        local(row["completed_at"]),
        row["result_code"],
        _label(PEOPLE, row["person_met"]),
        _yes_no(row["contact"]),
        _yes_no(row["debtor_lives_there"]),
        row["promise_amount"],
        row["promise_currency"],
        row["promise_due_date"],
        phones_text(*_phones_of(row)),
        row["notes"],
        _rounded(row["check_in_lat"], 6),
        _rounded(row["check_in_lon"], 6),
        _rounded(row["check_in_distance_m"], 1),
        _rounded(row["check_in_accuracy_m"], 1),
        _yes_no(row["check_in_verified"]),
        _rounded(row["address_lat"], 6),
        _rounded(row["address_lon"], 6),
        _yes_no(row["flagged"]),
        _label(CANCEL_REASONS, row["cancel_reason"]),
        evidence_links(context.photo_base_url, row["visit_id"], row["photo_ids"]),
        str(row["visit_id"]),
    ]
    return [neutralise(cell) if isinstance(cell, str) else cell for cell in cells]


def _phones_of(row: Mapping[str, Any]) -> tuple[str | None, Sequence[Any] | None]:
    return row["new_phone"], row["reported_phones"]


_COORDINATES = ("check_in_lat", "check_in_lon", "address_lat", "address_lon")


def _masked_row(row: Mapping[str, Any]) -> dict[str, Any]:
    """Return the row as a caller without personal:read may see it.

    The address keeps its zone (municipality, state, postal code); rows
    stored before the zone was kept show it masked whole.
    """
    reported = row["reported_phones"]
    return {
        **row,
        "debtor_name": mask_name(row["debtor_name"]),
        "address": row["address_zone"] or (MASK if row["address"] else None),
        "notes": mask_text(row["notes"]),
        "new_phone": mask_phone(row["new_phone"]),
        "reported_phones": mask_phones(reported) if reported else reported,
        **{name: coarse_coordinate(row[name]) for name in _COORDINATES},
    }


def phones_text(new_phone: str | None, reported: Sequence[Any] | None) -> str | None:
    """Return the phones a visit brought, one `number (kind, owner)` each."""
    described = [_phone_text(phone) for phone in reported or ()]
    numbers = {str(phone.get("number")) for phone in reported or ()}
    if new_phone and new_phone not in numbers:
        described.insert(0, new_phone)
    return "; ".join(described) or None


def evidence_links(
    base_url: str, visit_id: uuid.UUID, photo_ids: Sequence[uuid.UUID] | None
) -> str | None:
    """Return the URLs of the visit's photos on the visits API, space-separated."""
    base = base_url.rstrip("/")
    links = [f"{base}/visits/{visit_id}/photos/{photo}" for photo in photo_ids or ()]
    return " ".join(links) or None


def _phone_text(phone: Mapping[str, Any]) -> str:
    kind = phone.get("kind", "other")
    owner = phone.get("owner", "self")
    labels = [PHONE_KINDS.get(kind, "otro"), RELATIONS.get(owner, "otro")]
    if phone.get("whatsapp"):
        labels.append("WhatsApp")
    return f"{phone.get('number', '')} ({', '.join(labels)})"


def _local_time(zone: ZoneInfo) -> Any:
    def convert(moment: datetime | None) -> datetime | None:
        if moment is None:
            return None
        return moment.astimezone(zone).replace(tzinfo=None, microsecond=0)

    return convert


def _label(labels: Mapping[str, str], value: str | None) -> str | None:
    return None if value is None else labels.get(value, value)


def _yes_no(value: bool | None) -> str | None:
    if value is None:
        return None
    return "Sí" if value else "No"


def _rounded(value: float | None, digits: int) -> float | None:
    return None if value is None else round(value, digits)


def _text_id(value: uuid.UUID | None) -> str | None:
    return None if value is None else str(value)
