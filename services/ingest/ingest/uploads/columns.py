"""Map the headers directors use onto account fields.

Headers are compared after folding case and accents and turning punctuation
into spaces, so `No. de Crédito`, `NO DE CREDITO` and `no_de_credito` all
match. A header is matched, in this order, by the mapping sent with the
upload, by the tenant's saved mapping, then by the synonyms below. Columns
that match no field are kept on the account as extra attributes under their
original header.
"""

import re
import unicodedata
from dataclasses import dataclass, field

# Each field's synonyms go from the most specific to the least: when two
# columns match one field, the one whose header comes first here is used.
FIELD_SYNONYMS: dict[str, tuple[str, ...]] = {
    # The client's own account id, which is the account key when a file has it.
    "account_key": (
        "cuenta",
        "num cuenta",
        "no cuenta",
        "no de cuenta",
        "numero de cuenta",
        "num de cuenta",
        "numero de cliente",
        "no de cliente",
        "num cliente",
        "id cliente",
        "cliente id",
        "clave cliente",
        "clave de cliente",
        "account id",
        "account key",
    ),
    "credit_number": (
        "no de credito",
        "numero de credito",
        "num de credito",
        "no credito",
        "num credito",
        "credito",
        "no de contrato",
        "numero de contrato",
        "contrato",
        "credit number",
    ),
    "debtor_name": (
        "nombre del titular",
        "nombre titular",
        "nombre completo",
        "nombre del cliente",
        "titular",
        "nombre",
        "cliente",
        "deudor",
        "acreditado",
    ),
    "balance_overdue": (
        "saldo vencido",
        "monto vencido",
        "importe vencido",
        "adeudo",
        "saldo",
        "saldo total",
    ),
    "days_past_due": ("dias de atraso", "dias atraso", "dias vencidos", "dpd"),
    "street": ("calle", "domicilio", "direccion", "calle y numero"),
    "exterior_number": (
        "num ext",
        "no ext",
        "numero exterior",
        "num exterior",
        "exterior",
        "ext",
    ),
    "interior_number": (
        "num int",
        "no int",
        "numero interior",
        "num interior",
        "interior",
        "int",
    ),
    "colonia": ("colonia", "col", "fraccionamiento", "barrio"),
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
    "cross_streets": ("entre calles", "entre calle", "entrecalles", "cruces"),
    "address_references": (
        "referencias",
        "referencia",
        "referencias del domicilio",
        "puntos de referencia",
        "senas particulares",
    ),
    "phone": (
        "telefono",
        "tel",
        "celular",
        "cel",
        "movil",
        "telefono celular",
        "telefono 1",
    ),
    "latitude": ("latitud", "lat", "latitude"),
    "longitude": ("longitud", "lon", "lng", "long", "longitude"),
    "last_payment_date": (
        "fecha ultimo pago",
        "fecha de ultimo pago",
        "fecha del ultimo pago",
        "fec ult pago",
        "ultimo pago",
    ),
    "birth_date": ("fecha de nacimiento", "fecha nacimiento", "fec nac"),
}

FIELD_NAMES = tuple(FIELD_SYNONYMS)
DATE_FIELDS = ("last_payment_date", "birth_date")

_LOOKUP = {
    synonym: field_name
    for field_name, synonyms in FIELD_SYNONYMS.items()
    for synonym in synonyms
}
_RANK = {
    synonym: rank
    for synonyms in FIELD_SYNONYMS.values()
    for rank, synonym in enumerate(synonyms)
}


def normalize_header(header: object) -> str:
    text = unicodedata.normalize("NFKD", str(header or ""))
    text = "".join(ch for ch in text if not unicodedata.combining(ch))
    text = re.sub(r"[^0-9a-z]+", " ", text.lower())
    return text.strip()


def column_letter(index: int) -> str:
    """Return the spreadsheet letters of a 0-based column index (0 -> A)."""
    letters = ""
    number = index + 1
    while number:
        number, remainder = divmod(number - 1, 26)
        letters = chr(ord("A") + remainder) + letters
    return letters


@dataclass(frozen=True)
class RenamedColumn:
    """A repeated header kept apart under a numbered name."""

    header: str
    column: str
    name: str


@dataclass
class ColumnMap:
    """The row position of each field, and the columns kept as extras."""

    fields: dict[str, int] = field(default_factory=dict)
    extras: dict[str, int] = field(default_factory=dict)
    renamed: list[RenamedColumn] = field(default_factory=list)
    headers: dict[int, str] = field(default_factory=dict)
    notices: list[str] = field(default_factory=list)

    def missing_required(self) -> list[str]:
        missing = []
        if "account_key" not in self.fields and "credit_number" not in self.fields:
            missing.append("account_key (or credit_number)")
        if "debtor_name" not in self.fields:
            missing.append("debtor_name")
        return missing

    def key_field(self) -> str:
        """Return the field that keys accounts: the client id, else the credit."""
        return "account_key" if "account_key" in self.fields else "credit_number"

    def used_mapping(self) -> dict[str, str]:
        return {self.headers[index]: name for name, index in self.fields.items()}


def map_columns(
    headers: list[object], mapping: dict[str, str] | None = None
) -> ColumnMap:
    """Match each header to a field; `mapping` (header -> field) wins over synonyms.

    When several columns match one field by synonym, the most specific
    synonym wins (`Saldo Vencido` over `Saldo`), then the first column, and
    a notice names the columns. A repeated header (two `Teléfono` columns)
    is kept apart as `telefono_2`, never collapsed.
    """
    chosen = {normalize_header(k): v for k, v in (mapping or {}).items()}
    column_map = ColumnMap()
    labels = {i: str(h).strip() for i, h in enumerate(headers) if not _blank(h)}
    column_map.headers = labels
    for index, label in labels.items():
        field_name = chosen.get(normalize_header(label))
        if field_name is not None and field_name not in column_map.fields:
            column_map.fields[field_name] = index
    taken = set(column_map.fields.values())
    candidates: dict[str, list[int]] = {}
    for index, label in labels.items():
        normalized = normalize_header(label)
        field_name = _LOOKUP.get(normalized)
        if index in taken or normalized in chosen or field_name is None:
            continue
        candidates.setdefault(field_name, []).append(index)
    for field_name, indexes in candidates.items():
        if field_name in column_map.fields:
            continue
        best = min(indexes, key=lambda i: (_RANK[normalize_header(labels[i])], i))
        column_map.fields[field_name] = best
        taken.add(best)
        column_map.notices.extend(
            _competing_notice(field_name, labels, best, other)
            for other in indexes
            if normalize_header(labels[other]) != normalize_header(labels[best])
        )
    _name_extras(column_map, labels, taken)
    return column_map


def _competing_notice(
    field_name: str, labels: dict[int, str], used: int, other: int
) -> str:
    return (
        f"columns '{labels[used]}' ({column_letter(used)}) and '{labels[other]}' "
        f"({column_letter(other)}) both match {field_name}; '{labels[used]}' was "
        f"used and '{labels[other]}' kept as an extra attribute. To use "
        f"'{labels[other]}' instead, send the mapping "
        f'{{"{labels[other]}": "{field_name}"}}'
    )


def _name_extras(
    column_map: ColumnMap, labels: dict[int, str], taken: set[int]
) -> None:
    seen: dict[str, int] = {}
    for index, label in labels.items():
        normalized = normalize_header(label)
        seen[normalized] = seen.get(normalized, 0) + 1
        if index in taken:
            continue
        count = seen[normalized]
        if count == 1:
            column_map.extras[label] = index
            continue
        name = f"{normalized.replace(' ', '_')}_{count}"
        column_map.extras[name] = index
        column_map.renamed.append(RenamedColumn(label, column_letter(index), name))


def header_score(row: list[object], mapping: dict[str, str] | None = None) -> int:
    """Count the cells of a row that name a known field or a mapped header."""
    mapped = {normalize_header(header) for header in (mapping or {})}
    return sum(
        1
        for cell in row
        if not _blank(cell)
        and (normalize_header(cell) in mapped or normalize_header(cell) in _LOOKUP)
    )


def _blank(value: object) -> bool:
    return value is None or not str(value).strip()
