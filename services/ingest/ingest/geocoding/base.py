"""The geocoder contract: a batch of address queries in, one outcome per query out."""

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from ingest.geocoding.names import fold
from shared.events.payloads import LocationPrecision, LocationSource


@dataclass(frozen=True, slots=True)
class AddressQuery:
    street: str | None = None
    exterior_number: str | None = None
    colonia: str | None = None
    municipality: str | None = None
    state: str | None = None
    postal_code: str | None = None

    def text(self) -> str:
        """Return the address as one line, from the door outwards."""
        door = " ".join(part for part in (self.street, self.exterior_number) if part)
        area = " ".join(part for part in (self.postal_code, self.municipality) if part)
        parts = (door, self.colonia, area, self.state)
        return ", ".join(part for part in parts if part)

    def zone_text(self) -> str:
        """Return the postal code, municipality and state, without the door."""
        area = " ".join(part for part in (self.postal_code, self.municipality) if part)
        return ", ".join(part for part in (area, self.state) if part)

    def cache_key(self) -> str:
        """Return the folded one-line address, so spelling variants share a key."""
        return fold(self.text())


@dataclass(frozen=True, slots=True)
class GeoResult:
    lat: float
    lon: float
    precision: LocationPrecision
    source: LocationSource


@dataclass(frozen=True, slots=True)
class GeocodeOutcome:
    """A result, or None with a warning for the upload report that explains why."""

    result: GeoResult | None
    warning: str | None = None


@dataclass
class RequestBudget:
    """The provider requests one upload has made so far.

    An upload is geocoded in several batches, one per chunk of rows; they
    share one budget, so the upload's request limit applies across them.
    """

    spent: int = 0


class Geocoder(Protocol):
    async def geocode(
        self, queries: Sequence[AddressQuery], budget: RequestBudget | None = None
    ) -> list[GeocodeOutcome]:
        """Return one outcome per query, in order.

        A provider error or timeout becomes an outcome without a result and
        with a warning, not an exception, so that one bad address or an
        outage cannot fail an upload. Requests made count against `budget`,
        or against a budget of this call alone when it is None.
        """
        ...
