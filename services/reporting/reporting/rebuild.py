"""Drop the read models and fill them again by replaying every topic from its start.

The read models hold nothing that the events do not: each row is the upsert
of the events about it, in any order. So emptying `visit_facts`,
`campaigns`, `accounts` and the export details (`visit_details`) and
applying every event again gives the figures and the exports the live
consumer would have built. The replay reads each partition with no
consumer group, from its earliest offset to the end it had when the replay
began. It writes only the read models, so the live stream, the webhook
queues, and the live consumer's offsets and handled ids stay as they are.

The service may keep running. Its consumer goes on applying new events to
the emptied tables; the replay covers everything up to the ends it read,
which it reads after emptying them, and the upserts converge whichever of
the two applies an event first. Until the replay ends the figures read low.
"""

import time
from collections.abc import Iterable
from dataclasses import dataclass, field

import structlog
from aiokafka import AIOKafkaConsumer
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.structs import ConsumerRecord, TopicPartition
from pydantic import ValidationError
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from reporting.export_consumers import RECORDERS
from reporting.export_models import VisitDetail
from reporting.models import common
from reporting.read_models import APPLIERS, READ_MODEL_TABLES, Applier
from shared.db import create_engine, create_sessionmaker
from shared.errors import sqlstate
from shared.events import Envelope
from shared.events.payloads import PAYLOAD_TYPES
from shared.events.topics import ALL_TOPICS
from shared.operator_audit import record_command
from shared.rls import OPERATOR_ROLE
from shared.settings import ServiceSettings

log = structlog.get_logger(__name__)

REBUILT_TABLES = (*READ_MODEL_TABLES, VisitDetail.__table__)


def _writes_by_type() -> dict[str, tuple[type, tuple[Applier, ...]]]:
    """Map each event type to its payload model and its read-model writes."""
    writes: dict[type, list[Applier]] = {}
    for model, apply in APPLIERS.items():
        writes.setdefault(model, []).append(apply)
    for model, record in RECORDERS.items():
        writes.setdefault(model, []).append(record)
    return {model.event_type: (model, tuple(w)) for model, w in writes.items()}


WRITES_BY_TYPE = _writes_by_type()
BATCH_RECORDS = 500
LOCK_NOT_AVAILABLE = "55P03"


@dataclass
class RebuildReport:
    events_read: int = 0
    events_applied: int = 0
    events_skipped: int = 0
    seconds: float = 0.0
    skipped_examples: list[str] = field(default_factory=list)

    def summary(self) -> str:
        return (
            f"replayed {self.events_read} events in {self.seconds:.1f} s: "
            f"{self.events_applied} applied to the read models, "
            f"{self.events_skipped} undecodable or invalid and skipped"
        )


async def rebuild_read_models(
    settings: ServiceSettings, *, operator: str | None = None
) -> RebuildReport:
    """Empty the read models, then replay every topic into them.

    With `operator`, the rebuild runs as `campo_operator`, since it reads and
    writes every tenant's rows, and leaves an audit record naming the
    operator. Without it, it keeps the login role.
    """
    started = time.monotonic()
    role = OPERATOR_ROLE if operator is not None else None
    engine = create_engine(settings.database_url, pool_size=2, role=role)
    sessionmaker = create_sessionmaker(engine)
    try:
        async with sessionmaker() as session, session.begin():
            await truncate_read_models(session)
        log.info("rebuild.truncated", tables=[t.name for t in REBUILT_TABLES])
        report = await _replay(settings, sessionmaker)
        if operator is not None:
            async with sessionmaker() as session, session.begin():
                await record_command(
                    session,
                    common,
                    settings,
                    operator=operator,
                    command="campo-reporting rebuild",
                )
    finally:
        await engine.dispose()
    report.seconds = time.monotonic() - started
    log.info(
        "rebuild.finished",
        events_read=report.events_read,
        events_applied=report.events_applied,
        events_skipped=report.events_skipped,
        seconds=round(report.seconds, 1),
    )
    return report


class ReadModelsBusyError(RuntimeError):
    """Another session held the read models past the rebuild's lock wait."""


# TRUNCATE waits for every open transaction that touched the tables. A
# session left idle in a transaction would make the rebuild wait forever.
LOCK_WAIT = "30s"
HOLDERS = text(
    "SELECT DISTINCT a.pid, a.state, a.application_name,"
    " now() - a.xact_start AS held_for"
    " FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid"
    " WHERE l.relation = ANY(CAST(:tables AS regclass[]))"
    " AND a.pid <> pg_backend_pid()"
)


async def truncate_read_models(session: AsyncSession) -> None:
    """Empty the read models, or fail naming the sessions that hold them."""
    names = [f"{t.schema}.{t.name}" for t in REBUILT_TABLES]
    await session.execute(text(f"SET LOCAL lock_timeout = '{LOCK_WAIT}'"))
    try:
        async with session.begin_nested():
            await session.execute(text(f"TRUNCATE {', '.join(names)}"))
    except DBAPIError as error:
        if sqlstate(error) != LOCK_NOT_AVAILABLE:
            raise
        holders = (await session.execute(HOLDERS, {"tables": names})).all()
        described = "; ".join(
            f"pid {row.pid} ({row.state}, {row.application_name or 'no name'},"
            f" in a transaction for {row.held_for})"
            for row in holders
        )
        raise ReadModelsBusyError(
            f"the read models stayed locked for {LOCK_WAIT} by "
            f"{described or 'a session that has since ended'}; end those "
            "sessions (pg_terminate_backend) or retry when they are done"
        ) from error


async def _replay(
    settings: ServiceSettings, sessionmaker: async_sessionmaker[AsyncSession]
) -> RebuildReport:
    consumer = AIOKafkaConsumer(
        bootstrap_servers=settings.kafka_bootstrap_servers,
        group_id=None,
        enable_auto_commit=False,
        isolation_level="read_committed",
    )
    await consumer.start()
    report = RebuildReport()
    try:
        ends = await _end_offsets(consumer, settings)
        if not ends:
            return report
        consumer.assign(list(ends))
        await consumer.seek_to_beginning(*ends)
        pending = {tp for tp, end in ends.items() if end > 0}
        while pending:
            batches = await consumer.getmany(*pending, timeout_ms=1000)
            for tp, records in batches.items():
                wanted = [r for r in records if r.offset < ends[tp]]
                await _apply_batch(sessionmaker, wanted, report)
            for tp in list(pending):
                if await consumer.position(tp) >= ends[tp]:
                    pending.discard(tp)
    finally:
        await consumer.stop()
    return report


async def _end_offsets(
    consumer: AIOKafkaConsumer, settings: ServiceSettings
) -> dict[TopicPartition, int]:
    """Read the current end of every partition of the topics that exist."""
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap_servers)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        wanted = [
            settings.topic(s) for s in ALL_TOPICS if settings.topic(s) in existing
        ]
        described = await admin.describe_topics(wanted) if wanted else []
    finally:
        await admin.close()
    partitions = [
        TopicPartition(topic["topic"], partition["partition"])
        for topic in described
        for partition in topic["partitions"]
    ]
    return dict(await consumer.end_offsets(partitions)) if partitions else {}


async def _apply_batch(
    sessionmaker: async_sessionmaker[AsyncSession],
    records: Iterable[ConsumerRecord[bytes, bytes]],
    report: RebuildReport,
) -> None:
    async with sessionmaker() as session, session.begin():
        for record in records:
            report.events_read += 1
            applied = await _apply_record(session, record, report)
            report.events_applied += applied


async def _apply_record(
    session: AsyncSession,
    record: ConsumerRecord[bytes, bytes],
    report: RebuildReport,
) -> int:
    try:
        envelope = Envelope.from_kafka(
            key=record.key, value=record.value or b"", headers=list(record.headers)
        )
    except Exception:
        # The live consumer dead-letters such an event and applies nothing either.
        _skip(report, record, "undecodable")
        return 0
    if envelope.type not in WRITES_BY_TYPE or envelope.type not in PAYLOAD_TYPES:
        return 0
    model, writes = WRITES_BY_TYPE[envelope.type]
    try:
        payload = model.model_validate(envelope.data)
    except ValidationError:
        _skip(report, record, "invalid payload")
        return 0
    for write in writes:
        await write(session, payload)
    return 1


def _skip(
    report: RebuildReport, record: ConsumerRecord[bytes, bytes], why: str
) -> None:
    report.events_skipped += 1
    if len(report.skipped_examples) < 5:
        report.skipped_examples.append(
            f"{record.topic}:{record.partition}@{record.offset} {why}"
        )
