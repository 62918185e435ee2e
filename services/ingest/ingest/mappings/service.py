"""Column mappings: which header fills which account field, per tenant.

An upload applies the mapping sent with it first, then the tenant's saved
mapping, then the built-in header synonyms.
"""

import json
import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from ingest.mappings import repository
from ingest.mappings.schemas import ColumnMappingOut
from ingest.uploads.columns import FIELD_NAMES, normalize_header
from shared.errors import UnprocessableError

MAX_HEADER_CHARS = 200
MAX_MAPPING_CHARS = 50_000


class InvalidMappingError(UnprocessableError):
    code = "invalid-column-mapping"
    title = "The column mapping is invalid"


def validate_mapping(mapping: dict[str, str]) -> dict[str, str]:
    """Return the mapping when every header is usable and every field exists."""
    unknown = sorted({name for name in mapping.values() if name not in FIELD_NAMES})
    if unknown:
        raise InvalidMappingError(
            f"unknown field names: {', '.join(unknown)}; valid fields are "
            + ", ".join(FIELD_NAMES),
            valid_fields=list(FIELD_NAMES),
        )
    by_field: dict[str, str] = {}
    for header, field_name in mapping.items():
        if (
            not normalize_header(header)
            or len(header) > MAX_HEADER_CHARS
            or "\x00" in header
        ):
            raise InvalidMappingError(
                f"header {header[:50]!r} is empty, contains a NUL character or is "
                f"longer than {MAX_HEADER_CHARS} characters; use the header text "
                "from the file"
            )
        if field_name in by_field:
            raise InvalidMappingError(
                f"headers {by_field[field_name]!r} and {header!r} both map to "
                f"{field_name}; a field takes its value from one column"
            )
        by_field[field_name] = header
    return mapping


def parse_mapping_field(text: str) -> dict[str, str]:
    """Read the `mapping` form field of an upload: a JSON object of strings."""
    if len(text) > MAX_MAPPING_CHARS:
        raise InvalidMappingError(
            f"the mapping is longer than {MAX_MAPPING_CHARS} characters"
        )
    try:
        mapping = json.loads(text)
    except json.JSONDecodeError as error:
        raise InvalidMappingError(
            f"the mapping is not valid JSON ({error.msg} at character {error.pos}); "
            'send an object such as {"Núm. Cliente": "account_key"}'
        ) from None
    if not isinstance(mapping, dict) or not all(
        isinstance(key, str) and isinstance(value, str)
        for key, value in mapping.items()
    ):
        raise InvalidMappingError(
            "the mapping must be a JSON object of header -> field name strings, "
            'such as {"Núm. Cliente": "account_key"}'
        )
    return validate_mapping(mapping)


def combine(saved: dict[str, str], explicit: dict[str, str] | None) -> dict[str, str]:
    """Merge two mappings; the explicit one wins for a header or a field in both."""
    if not explicit:
        return dict(saved)
    explicit_headers = {normalize_header(header) for header in explicit}
    explicit_fields = set(explicit.values())
    kept = {
        header: field_name
        for header, field_name in saved.items()
        if normalize_header(header) not in explicit_headers
        and field_name not in explicit_fields
    }
    return kept | explicit


async def get_mapping(
    session: AsyncSession, *, tenant_id: uuid.UUID
) -> ColumnMappingOut:
    async with session.begin():
        stored = await repository.get_mapping(session, tenant_id=tenant_id)
    if stored is None:
        return ColumnMappingOut(mapping={})
    return ColumnMappingOut(mapping=stored.mapping, updated_at=stored.updated_at)


async def put_mapping(
    session: AsyncSession, *, tenant_id: uuid.UUID, mapping: dict[str, str]
) -> ColumnMappingOut:
    validate_mapping(mapping)
    async with session.begin():
        stored = await repository.upsert_mapping(
            session, tenant_id=tenant_id, mapping=mapping
        )
    return ColumnMappingOut(mapping=stored.mapping, updated_at=stored.updated_at)
