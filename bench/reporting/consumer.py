"""Measure how many events per second reporting's consumer applies.

    uv run python -m bench.reporting.consumer [--events 500] [--batch 1,50,200,500]
    uv run python -m bench.reporting.consumer --per-event [--events 200]

Creates a database of its own with reporting's schema and one tenant with a
webhook subscription to visit.completed, as the end-to-end bench does. Then
hands the consumer `campo.visit.completed` records built in this process,
the way `getmany` returns them, so Kafka plays no part: the time is the
decoding, the validation and the transactions. With `--per-event` every
record goes through the one-event-per-transaction path instead.
"""

import argparse
import asyncio
import time
import uuid
from collections.abc import Sequence

from aiokafka.structs import ConsumerRecord

from bench.reporting.__main__ import bench_database, server_urls, visit_completed
from reporting.consumers import CONSUMER_GROUP, HANDLERS, apply_batch
from reporting.models import SUBSCRIPTION_ENABLED, WebhookSubscription, common
from shared.consumer import EventConsumer
from shared.db import create_engine, create_sessionmaker
from shared.events import Envelope, topics
from shared.settings import ServiceSettings

WARM_UP_EVENTS = 5


def as_records(
    envelopes: Sequence[Envelope], first_offset: int
) -> list[ConsumerRecord[bytes, bytes]]:
    """Build the records a consumer would fetch for these events, in one partition."""
    records = []
    for offset, envelope in enumerate(envelopes, start=first_offset):
        message = envelope.to_kafka()
        key = message.key.encode() if isinstance(message.key, str) else message.key
        records.append(
            ConsumerRecord(
                topic=topics.VISITS,
                partition=0,
                offset=offset,
                timestamp=0,
                timestamp_type=0,
                key=key,
                value=message.value,
                checksum=None,
                serialized_key_size=len(key or b""),
                serialized_value_size=len(message.value or b""),
                headers=list(message.headers.items()),
            )
        )
    return records


async def subscribe(settings: ServiceSettings, tenant_id: uuid.UUID) -> None:
    """Subscribe the tenant to visit.completed, so each event queues a delivery."""
    engine = create_engine(settings.database_url, pool_size=1)
    try:
        async with create_sessionmaker(engine)() as session, session.begin():
            session.add(
                WebhookSubscription(
                    subscription_id=uuid.uuid4(),
                    tenant_id=tenant_id,
                    # Nothing delivers here: only the consumer runs.
                    url="http://127.0.0.1:9/hook",
                    event_types=["visit.completed"],
                    secret="whsec_" + uuid.uuid4().hex,
                    state=SUBSCRIPTION_ENABLED,
                )
            )
    finally:
        await engine.dispose()


async def run(events: int, batch_sizes: Sequence[int], per_event: bool) -> None:
    admin_url, _ = server_urls()
    async with bench_database(admin_url) as database_url:
        settings = ServiceSettings(database_url=database_url)
        tenant_id, campaign_id = uuid.uuid4(), uuid.uuid4()
        await subscribe(settings, tenant_id)
        engine = create_engine(database_url, pool_size=2)
        consumer = EventConsumer(
            group_id=f"bench.{CONSUMER_GROUP}",
            streams=[topics.VISITS],
            handlers=HANDLERS,
            sessionmaker=create_sessionmaker(engine),
            tables=common,
            # Only a dead letter would use it, and every event here is valid.
            producer=None,  # type: ignore[arg-type]
            settings=settings,
            batch_handler=None if per_event else apply_batch,
        )
        offset = 0

        def next_records(count: int) -> list[ConsumerRecord[bytes, bytes]]:
            nonlocal offset
            envelopes = [
                Envelope.wrap(visit_completed(tenant_id, campaign_id), source="/bench")
                for _ in range(count)
            ]
            offset += count
            return as_records(envelopes, offset - count)

        try:
            # The first events compile and cache the statements.
            for record in next_records(WARM_UP_EVENTS):
                await consumer.handle_records([record])
            for size in [1] if per_event else batch_sizes:
                records = next_records(events)
                started = time.perf_counter()
                for start in range(0, events, size):
                    await consumer.handle_records(records[start : start + size])
                report(size, events, time.perf_counter() - started, per_event)
        finally:
            await engine.dispose()


def report(size: int, events: int, seconds: float, per_event: bool) -> None:
    path = "one event per transaction" if per_event else f"batches of {size}"
    print(
        f"{path}: {events} events in {seconds * 1000:.0f} ms, "
        f"{seconds / events * 1000:.2f} ms per event, {events / seconds:.0f} events/s"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=500, help="events per run")
    parser.add_argument(
        "--batch", default="1,50,200,500", help="batch sizes, comma-separated"
    )
    parser.add_argument(
        "--per-event", action="store_true", help="apply one event per transaction"
    )
    args = parser.parse_args()
    sizes = [int(size) for size in args.batch.split(",")]
    asyncio.run(run(args.events, sizes, args.per_event))


if __name__ == "__main__":
    main()
