"""Map the headers directors use onto account fields.

Headers are compared after folding case and accents and turning punctuation
into spaces, so `No. de Crédito`, `NO DE CREDITO` and `no_de_credito` all
match. Columns that match no field are kept on the account as extra
attributes under their original header.
"""

import re
import unicodedata
from dataclasses import dataclass, field

FIELD_SYNONYMS: dict[str, tuple[str, ...]] = {
    "account_key": (
        "no de credito",
        "numero de credito",
        "num de credito",
        "no credito",
        "credito",
        "num cuenta",
        "no de cuenta",
        "numero de cuenta",
        "cuenta",
        "account id",
        "account key",
    ),
    "debtor_name": (
        "nombre del titular",
        "nombre titular",
        "titular",
        "nombre",
        "nombre completo",
        "nombre del cliente",
        "cliente",
        "deudor",
    ),
    "balance_overdue": ("saldo vencido", "monto vencido", "importe vencido", "saldo"),
    "days_past_due": ("dias de atraso", "dias atraso", "dias vencidos", "dpd"),
    "street": ("calle", "domicilio", "direccion"),
    "exterior_number": (
        "num ext",
        "no ext",
        "numero exterior",
        "num exterior",
        "exterior",
    ),
    "interior_number": (
        "num int",
        "no int",
        "numero interior",
        "num interior",
        "interior",
    ),
    "colonia": ("colonia", "col", "fraccionamiento"),
    "postal_code": ("c p", "cp", "codigo postal", "cod postal"),
    "municipality": (
        "alcaldia municipio",
        "municipio alcaldia",
        "municipio",
        "alcaldia",
        "delegacion",
        "delegacion municipio",
    ),
    "state": ("estado", "entidad", "entidad federativa"),
    "phone": ("telefono", "tel", "celular", "telefono celular", "telefono 1"),
    "latitude": ("latitud", "lat", "latitude"),
    "longitude": ("longitud", "lon", "lng", "long", "longitude"),
}

REQUIRED_FIELDS = ("account_key", "debtor_name")

_LOOKUP = {
    synonym: field_name
    for field_name, synonyms in FIELD_SYNONYMS.items()
    for synonym in synonyms
}


def normalize_header(header: object) -> str:
    text = unicodedata.normalize("NFKD", str(header or ""))
    text = "".join(ch for ch in text if not unicodedata.combining(ch))
    text = re.sub(r"[^0-9a-z]+", " ", text.lower())
    return text.strip()


@dataclass
class ColumnMap:
    """The row position of each field, and the columns kept as extras."""

    fields: dict[str, int] = field(default_factory=dict)
    extras: dict[str, int] = field(default_factory=dict)
    duplicates: list[str] = field(default_factory=list)

    def missing_required(self) -> list[str]:
        return [name for name in REQUIRED_FIELDS if name not in self.fields]


def map_columns(headers: list[object]) -> ColumnMap:
    """Match each header to a field; the first column wins for a repeated field."""
    column_map = ColumnMap()
    occurrences: dict[str, int] = {}
    for index, header in enumerate(headers):
        label = str(header).strip() if header is not None else ""
        if not label:
            continue
        occurrences[label] = occurrences.get(label, 0) + 1
        field_name = _LOOKUP.get(normalize_header(label))
        if field_name is not None and field_name not in column_map.fields:
            column_map.fields[field_name] = index
            continue
        # A repeated header (two `Teléfono` columns) is kept apart as
        # `Teléfono (2)`, never collapsed onto the first.
        seen = occurrences[label]
        name = label if seen == 1 else f"{label} ({seen})"
        if seen > 1:
            column_map.duplicates.append(name)
        column_map.extras[name] = index
    return column_map


def header_score(row: list[object]) -> int:
    """Count the cells of a row that name a known field."""
    return sum(1 for cell in row if _LOOKUP.get(normalize_header(cell)) is not None)
