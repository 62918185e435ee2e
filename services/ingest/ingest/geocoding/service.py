"""Place each account of a parsed upload and find its time zone.

Called for each chunk of an upload's rows, after the chunk is parsed and
before it is staged. Every account gets a placement: an account that cannot
be placed is stored all the same, with no location and a warning on its row
of the upload report.
"""

import asyncio
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ingest.geocoding.base import (
    AddressQuery,
    GeocodeOutcome,
    Geocoder,
    GeoResult,
    RequestBudget,
)
from ingest.geocoding.crosscheck import (
    CoordinateCheck,
    NearestPlace,
    check_many,
    unknown_state_warning,
)
from ingest.geocoding.gazetteer import GazetteerGeocoder, packaged_index
from ingest.geocoding.nominatim import NominatimGeocoder
from ingest.geocoding.timezones import zone_at, zone_for_address
from ingest.settings import IngestSettings
from ingest.uploads.normalize import AccountRow, RowIssue
from ingest.uploads.rows import ParsedRow
from shared.events.payloads import LocationPrecision, LocationSource


@dataclass(frozen=True, slots=True)
class Placement:
    result: GeoResult | None
    time_zone: str | None

    @property
    def status(self) -> str:
        return "placed" if self.result is not None else "unplaced"


UNPLACED = Placement(None, None)
# Fields whose absence from a file means the file gives no location for
# its accounts (`location` is the coordinate columns).
_ADDRESS_COLUMNS = frozenset({"colonia", "municipality", "state", "location"})


class FallbackGeocoder:
    """Ask `primary`, then `fallback` for what `primary` left unplaced."""

    def __init__(self, primary: Geocoder, fallback: Geocoder) -> None:
        self._primary = primary
        self._fallback = fallback

    async def geocode(
        self, queries: Sequence[AddressQuery], budget: RequestBudget | None = None
    ) -> list[GeocodeOutcome]:
        outcomes = await self._primary.geocode(queries, budget)
        missing = [
            index for index, outcome in enumerate(outcomes) if not _is_placed(outcome)
        ]
        if not missing:
            return outcomes
        retried = await self._fallback.geocode(
            [queries[index] for index in missing], budget
        )
        for index, outcome in zip(missing, retried, strict=True):
            if _is_placed(outcome):
                outcomes[index] = outcome
            else:
                first = outcomes[index].warning or "the provider found only the state"
                outcomes[index] = GeocodeOutcome(None, f"{first}; {outcome.warning}")
        return outcomes


def build_locator(
    settings: IngestSettings, sessionmaker: async_sessionmaker[AsyncSession]
) -> "AccountLocator":
    """Build the locator that INGEST_GEOCODER selects; keep one per process.

    The Nominatim geocoder carries the rate limit, so every upload of the
    process must share it.
    """
    gazetteer = GazetteerGeocoder()
    geocoder: Geocoder = gazetteer
    if settings.geocoder == "nominatim":
        assert settings.nominatim_url is not None
        nominatim = NominatimGeocoder(
            base_url=settings.nominatim_url,
            sessionmaker=sessionmaker,
            user_agent=settings.nominatim_user_agent,
            timeout_seconds=settings.nominatim_timeout_seconds,
            requests_per_second=settings.nominatim_requests_per_second,
            max_requests_per_upload=settings.nominatim_max_requests_per_upload,
        )
        geocoder = FallbackGeocoder(nominatim, gazetteer)
    return AccountLocator(
        geocoder,
        file_precision=settings.file_location_precision,
        keep_foreign_coordinates=settings.foreign_coordinates == "keep",
    )


class AccountLocator:
    def __init__(
        self,
        geocoder: Geocoder,
        *,
        file_precision: LocationPrecision = LocationPrecision.ROOFTOP,
        keep_foreign_coordinates: bool = False,
    ) -> None:
        self._geocoder = geocoder
        self._file_precision = file_precision
        self._keep_foreign = keep_foreign_coordinates
        self._places: NearestPlace | None = None

    async def locate(
        self, parsed_rows: Iterable[ParsedRow], budget: RequestBudget | None = None
    ) -> dict[str, Placement]:
        """Return a placement per account key, and add warnings to the rows.

        Only the first row of each key is placed, because a repeated key is
        rejected when the upload is stored. Provider requests count against
        `budget`, which the chunks of one upload share.
        """
        rows: dict[str, ParsedRow] = {}
        for row in parsed_rows:
            if row.account is not None:
                rows.setdefault(row.account.account_key, row)

        # Checking points and finding time zones are CPU work, off the event loop.
        placements, to_geocode = await asyncio.to_thread(self._place_from_file, rows)
        outcomes = await self._geocoder.geocode(
            [query for _, query in to_geocode], budget
        )
        await asyncio.to_thread(_place_geocoded, rows, placements, to_geocode, outcomes)
        return placements

    def _place_from_file(
        self, rows: dict[str, ParsedRow]
    ) -> tuple[dict[str, Placement], list[tuple[str, AddressQuery]]]:
        """Place the rows whose file coordinates pass the checks.

        Return their placements, with those of rows that have nothing to
        geocode, and the queries for the rest.
        """
        checked_rows, checks = self._check_file_points(rows)
        placements: dict[str, Placement] = {}
        to_geocode: list[tuple[str, AddressQuery]] = []
        # `checked_rows` follows the order of `rows`, so one index walks both.
        next_checked = 0
        for key, row in rows.items():
            account = _account(row)
            state_warning = unknown_state_warning(account.state)
            if state_warning:
                _warn(row, state_warning, column="state", value=account.state)
            check = None
            if next_checked < len(checks) and checked_rows[next_checked] is row:
                check = checks[next_checked]
                next_checked += 1
                for warning in check.warnings:
                    point = f"{account.latitude}, {account.longitude}"
                    _warn(row, warning, column="latitude", value=point)
            if check is not None and check.usable:
                assert account.latitude is not None and account.longitude is not None
                result = GeoResult(
                    account.latitude,
                    account.longitude,
                    self._file_precision,
                    LocationSource.FILE,
                )
                # The check looked the zone up at these very coordinates.
                placements[key] = _placement(row, result, check.zone)
            elif _has_place_names(account):
                to_geocode.append((key, _query(account)))
            elif _ADDRESS_COLUMNS <= account.kept_fields:
                # The file has no coordinate or address columns, as in a
                # balance update, so the stored location stays.
                placements[key] = UNPLACED
            else:
                _warn(row, "the address has no colonia, municipality or state")
                placements[key] = _placement(row, None, None)
        return placements, to_geocode

    def _check_file_points(
        self, rows: dict[str, ParsedRow]
    ) -> tuple[list[ParsedRow], list[CoordinateCheck]]:
        """Check the rows that carry coordinates; return them and their checks."""
        checked_rows: list[ParsedRow] = []
        points: list[tuple[float, float, str | None]] = []
        for row in rows.values():
            account = _account(row)
            if account.latitude is None or account.longitude is None:
                continue
            checked_rows.append(row)
            points.append((account.latitude, account.longitude, account.state))
        if not points:
            return [], []
        if self._places is None:
            self._places = NearestPlace(packaged_index())
        checks = check_many(points, self._places, keep_foreign=self._keep_foreign)
        return checked_rows, checks


def _place_geocoded(
    rows: dict[str, ParsedRow],
    placements: dict[str, Placement],
    to_geocode: list[tuple[str, AddressQuery]],
    outcomes: list[GeocodeOutcome],
) -> None:
    """Add the placements of geocoded rows, warning on those left unplaced."""
    for (key, query), outcome in zip(to_geocode, outcomes, strict=True):
        result = outcome.result if _is_placed(outcome) else None
        if result is None:
            # The report is shown to every reader of uploads: the zone
            # shows where the address was looked for, without the door.
            _warn(rows[key], _unplaced_message(outcome), value=query.zone_text())
        zone = zone_at(result.lat, result.lon) if result is not None else None
        placements[key] = _placement(rows[key], result, zone)


def _placement(row: ParsedRow, result: GeoResult | None, zone: str | None) -> Placement:
    """Return the row's placement; without a zone, take the state's, with a warning."""
    if zone is None:
        account = _account(row)
        fallback = zone_for_address(account.state, account.municipality)
        zone = fallback.zone
        if fallback.warning:
            _warn(row, fallback.warning, column="time_zone")
    return Placement(result, zone)


def _is_placed(outcome: GeocodeOutcome) -> bool:
    # A point at a state's centre would send an agent hundreds of kilometres
    # off, so a state-level result leaves the account unplaced.
    return (
        outcome.result is not None
        and outcome.result.precision is not LocationPrecision.STATE
    )


def _unplaced_message(outcome: GeocodeOutcome) -> str:
    reason = outcome.warning or "only the state was found"
    return (
        f"not placed: {reason}. The account is stored without a location, "
        "so campaigns cannot send an agent to it"
    )


def _account(row: ParsedRow) -> AccountRow:
    assert row.account is not None
    return row.account


def _has_place_names(account: AccountRow) -> bool:
    return any((account.colonia, account.municipality, account.state))


def _query(account: AccountRow) -> AddressQuery:
    return AddressQuery(
        street=account.street,
        exterior_number=account.exterior_number,
        colonia=account.colonia,
        municipality=account.municipality,
        state=account.state,
        postal_code=account.postal_code,
    )


def _warn(
    row: ParsedRow, message: str, *, column: str = "location", value: str | None = None
) -> None:
    row.issues.append(RowIssue(column, value, message, severity="warning"))
