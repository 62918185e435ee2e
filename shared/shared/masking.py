"""Debtors' personal data, shown in full or masked by what the caller holds.

A caller with the `personal:read` scope (tenant administrators, directors,
and keys given it) sees names, phones, addresses and notes as stored; any
other tenant caller (an analyst working on figures, a key without the
scope) gets them masked: `J*** P***` for a name, `+52 55 **** **78` for a
phone, `***` for each line of a street address and for a free-text note,
and coordinates rounded to about a kilometre. The masked forms keep enough
to tell records apart on a screen and nothing to call, greet or find the
debtor by. The postal code, municipality and state stay: figures by zone
need them.

Each response schema that carries a name or a phone has one `masked()`
method built on these functions, and each endpoint answers through
`disclose` (reads, always audited) or `for_caller` (answers to writes).
A masked read is audited too: it still shows the debtor's address, debt
and visit results.
"""

from collections.abc import Iterable, Mapping
from typing import Any, Protocol, Self, TypeVar
from uuid import UUID

from shared.audit import record_read
from shared.auth import Tenant
from shared.permissions import Scope
from shared.runtime import ServiceRuntime

MASK = "***"
# A phone keeps its leading digits (country and area code) and its last two.
PHONE_KEPT_LEADING_DIGITS = 4
PHONE_KEPT_TRAILING_DIGITS = 2
# Shorter numbers keep only their last two digits.
PHONE_SHORTEST_WITH_PREFIX = 8
# The lines of an address that find the door; the zone (postal code,
# municipality, state) is not among them.
ADDRESS_LINE_KEYS = (
    "street",
    "exterior_number",
    "interior_number",
    "colonia",
    "cross_streets",
    "address_references",
)
# Two decimals of a degree are about 1.1 km: the neighbourhood, not the door.
COARSE_COORDINATE_DECIMALS = 2


def shows_personal_data(tenant: Tenant) -> bool:
    """Tell whether `tenant`'s caller sees debtors' names and phones in full."""
    return Scope.PERSONAL_READ in tenant.scopes


def mask_name(name: str | None) -> str | None:
    """Return each word's first letter followed by `***`: `J*** P***`."""
    if name is None:
        return None
    words = name.split()
    if not words:
        return MASK
    return " ".join(word[0] + MASK for word in words)


def mask_phone(phone: str | None) -> str | None:
    """Star every digit of `phone` but the area prefix and the last two.

    Separators stay where they were, so `+52 55 1234 5678` reads
    `+52 55 **** **78` and `+525512345678` reads `+5255******78`.
    """
    if phone is None:
        return None
    digits = sum(char.isdigit() for char in phone)
    leading = PHONE_KEPT_LEADING_DIGITS if digits >= PHONE_SHORTEST_WITH_PREFIX else 0
    last_hidden = digits - PHONE_KEPT_TRAILING_DIGITS
    masked, seen = [], 0
    for char in phone:
        if char.isdigit():
            masked.append(char if not leading <= seen < last_hidden else "*")
            seen += 1
        else:
            masked.append(char)
    return "".join(masked)


def mask_email(email: str | None) -> str | None:
    """Keep the first letter and the top-level domain: `a***@***.mx`."""
    if email is None:
        return None
    local, _, domain = email.strip().partition("@")
    top = domain.rpartition(".")[2] if "." in domain else ""
    first = local[:1] or MASK
    return f"{first}{MASK}@{MASK}" + (f".{top}" if top else "")


def mask_text(text: str | None) -> str | None:
    """Hide a free-text note or an address line whole: it may contain anything."""
    return None if text is None else MASK


def coarse_coordinate(degrees: float | None) -> float | None:
    """Round a latitude or longitude to about a kilometre."""
    return None if degrees is None else round(degrees, COARSE_COORDINATE_DECIMALS)


def mask_address_lines(address: Mapping[str, Any]) -> dict[str, Any]:
    """Return the address with its street lines masked and its zone kept."""
    return {
        key: mask_text(value) if key in ADDRESS_LINE_KEYS else value
        for key, value in address.items()
    }


def mask_phones(phones: list[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Mask the `number` of each phone object, keeping its kind and owner."""
    return [{**phone, "number": mask_phone(phone.get("number"))} for phone in phones]


# Keys of event documents (as streamed) that hold a debtor's name or phone,
# an address line or a free-text note.
NAME_KEYS = frozenset({"debtor_name"})
PHONE_KEYS = frozenset({"phone", "new_phone", "number"})
TEXT_KEYS = frozenset({*ADDRESS_LINE_KEYS, "notes", "note"})
COORDINATE_KEYS = frozenset({"lat", "lon"})


def mask_document(value: Any) -> Any:
    """Return a JSON value with every personal value under a known key masked.

    For documents whose shape this service does not own, such as the events
    on the live stream: any `debtor_name` is masked as a name, any `phone`,
    `new_phone` or phone object's `number` as a phone, any address line or
    note whole, and any `lat` or `lon` rounded.
    """
    if isinstance(value, list):
        return [mask_document(item) for item in value]
    if not isinstance(value, dict):
        return value
    return {key: _mask_entry(key, item) for key, item in value.items()}


def _mask_entry(key: str, value: Any) -> Any:
    if isinstance(value, str) and key in NAME_KEYS:
        return mask_name(value)
    if isinstance(value, str) and key in PHONE_KEYS:
        return mask_phone(value)
    if isinstance(value, str) and key in TEXT_KEYS:
        return mask_text(value)
    if isinstance(value, float) and key in COORDINATE_KEYS:
        return coarse_coordinate(value)
    return mask_document(value)


class Maskable(Protocol):
    def masked(self) -> Self: ...


M = TypeVar("M", bound=Maskable)


def for_caller(out: M, tenant: Tenant) -> M:
    """Return `out` as `tenant`'s caller may see it: in full or masked."""
    return out if shows_personal_data(tenant) else out.masked()


async def disclose(
    out: M,
    tenant: Tenant,
    runtime: ServiceRuntime,
    *,
    resource: str,
    resource_ids: Iterable[object],
    visit_id: UUID | None = None,
    campaign_id: UUID | None = None,
) -> M:
    """Return a read's response for the caller and record who read which records.

    Masked or not, the response shows personal data (the address, the debt,
    the visit's results), so both are recorded.
    """
    await record_read(
        runtime,
        tenant_id=tenant.tenant_id,
        actor=tenant.caller,
        resource=resource,
        resource_ids=resource_ids,
        visit_id=visit_id,
        campaign_id=campaign_id,
    )
    return out if shows_personal_data(tenant) else out.masked()
