"""Geocoding through a Nominatim-compatible HTTP provider, with a persistent cache.

An address goes to `GET {base}/search?format=jsonv2&q=...&countrycodes=mx`
and the result, found or not, is cached in ingest's schema under the folded
address, so later uploads send no request for it. Two uploads running at
once may both send the same new address. Requests are spaced by a
per-process rate limit. A provider error or timeout leaves that address
without a result and with a warning, and is not cached, so a later upload
sends the request again.
"""

import asyncio
import time
from collections.abc import Sequence
from typing import Any

import httpx
import structlog
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ingest.geocoding import repository
from ingest.geocoding.base import (
    AddressQuery,
    GeocodeOutcome,
    GeoResult,
    RequestBudget,
)
from ingest.models import GeocodeCacheEntry
from shared.events.payloads import LocationPrecision, LocationSource

log = structlog.get_logger(__name__)

PROVIDER = "nominatim"

# Nominatim's `addresstype` of the best match, mapped to how close it is.
_PRECISION_BY_ADDRESS_TYPE = {
    "house": LocationPrecision.ROOFTOP,
    "building": LocationPrecision.ROOFTOP,
    "amenity": LocationPrecision.ROOFTOP,
    "shop": LocationPrecision.ROOFTOP,
    "road": LocationPrecision.STREET,
    "postcode": LocationPrecision.POSTAL_CODE,
    "state": LocationPrecision.STATE,
}

_NOT_FOUND = GeocodeOutcome(None, "the geocoding provider found no such address")


class RateLimiter:
    """Space calls at least `1 / per_second` seconds apart, across tasks."""

    def __init__(self, per_second: float) -> None:
        self._interval = 1.0 / per_second
        self._next_at = 0.0
        self._lock = asyncio.Lock()

    async def wait(self) -> None:
        async with self._lock:
            now = time.monotonic()
            if self._next_at > now:
                await asyncio.sleep(self._next_at - now)
            self._next_at = max(now, self._next_at) + self._interval


class ProviderError(Exception):
    """The provider request failed; the message names the failure."""


class NominatimGeocoder:
    def __init__(
        self,
        *,
        base_url: str,
        sessionmaker: async_sessionmaker[AsyncSession],
        user_agent: str,
        timeout_seconds: float,
        requests_per_second: float,
        max_requests_per_upload: int,
    ) -> None:
        self._search_url = base_url.rstrip("/") + "/search"
        self._sessionmaker = sessionmaker
        self._headers = {"User-Agent": user_agent, "Accept": "application/json"}
        self._timeout = httpx.Timeout(timeout_seconds)
        self._limiter = RateLimiter(requests_per_second)
        self._max_requests = max_requests_per_upload

    async def geocode(
        self, queries: Sequence[AddressQuery], budget: RequestBudget | None = None
    ) -> list[GeocodeOutcome]:
        keys = [query.cache_key() for query in queries]
        async with self._sessionmaker() as session, session.begin():
            cached = await repository.cached_entries(
                session, provider=PROVIDER, query_keys=keys
            )
        outcomes = {key: _cached_outcome(entry) for key, entry in cached.items()}

        # The database session is closed before the slow part: provider
        # requests spaced by the rate limit.
        fetched = await self._fetch_missing(
            queries, keys, outcomes, budget or RequestBudget()
        )
        if fetched:
            async with self._sessionmaker() as session, session.begin():
                await repository.store_entries(session, fetched)
        skipped = GeocodeOutcome(None, "not sent to the geocoding provider")
        return [outcomes.get(key, skipped) for key in keys]

    async def _fetch_missing(
        self,
        queries: Sequence[AddressQuery],
        keys: list[str],
        outcomes: dict[str, GeocodeOutcome],
        budget: RequestBudget,
    ) -> list[dict[str, object]]:
        """Ask the provider for uncached keys, within the upload's request budget."""
        entries: list[dict[str, object]] = []
        async with httpx.AsyncClient(
            headers=self._headers, timeout=self._timeout
        ) as client:
            for query, key in zip(queries, keys, strict=True):
                if key in outcomes or not key:
                    continue
                if budget.spent >= self._max_requests:
                    log.warning(
                        "geocoding.request_budget_spent", max_requests=budget.spent
                    )
                    break
                budget.spent += 1
                try:
                    result = await self._search(client, query)
                except ProviderError as error:
                    log.warning("geocoding.provider_failed", error=str(error))
                    outcomes[key] = GeocodeOutcome(
                        None, f"the geocoding provider failed ({error}); not placed"
                    )
                    continue
                outcomes[key] = GeocodeOutcome(result) if result else _NOT_FOUND
                entries.append(_cache_entry(key, result))
        return entries

    async def _search(
        self, client: httpx.AsyncClient, query: AddressQuery
    ) -> GeoResult | None:
        await self._limiter.wait()
        params = {
            "format": "jsonv2",
            "q": query.text(),
            "countrycodes": "mx",
            "limit": "1",
        }
        try:
            response = await client.get(self._search_url, params=params)
        except httpx.TimeoutException:
            raise ProviderError("timed out") from None
        except httpx.HTTPError as error:
            raise ProviderError(type(error).__name__) from None
        if response.status_code != 200:
            raise ProviderError(f"HTTP {response.status_code}")
        try:
            places = response.json()
        except ValueError:
            raise ProviderError("the response is not JSON") from None
        return _parse_places(places)


def _parse_places(places: Any) -> GeoResult | None:
    if not isinstance(places, list):
        raise ProviderError("the response is not a list of places")
    if not places:
        return None
    best = places[0]
    try:
        lat, lon = float(best["lat"]), float(best["lon"])
    except (KeyError, TypeError, ValueError):
        raise ProviderError("the first place has no valid lat and lon") from None
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):
        raise ProviderError(f"the first place is out of range ({lat}, {lon})")
    address_type = best.get("addresstype") or best.get("type")
    precision = _PRECISION_BY_ADDRESS_TYPE.get(address_type, LocationPrecision.LOCALITY)
    return GeoResult(lat, lon, precision, LocationSource.NOMINATIM)


def _cached_outcome(entry: GeocodeCacheEntry) -> GeocodeOutcome:
    if entry.lat is None or entry.lon is None or entry.precision is None:
        return _NOT_FOUND
    result = GeoResult(
        entry.lat, entry.lon, LocationPrecision(entry.precision), LocationSource.CACHE
    )
    return GeocodeOutcome(result)


def _cache_entry(key: str, result: GeoResult | None) -> dict[str, object]:
    return {
        "query_key": key,
        "provider": PROVIDER,
        "found": result is not None,
        "lat": result.lat if result else None,
        "lon": result.lon if result else None,
        "precision": result.precision.value if result else None,
    }
