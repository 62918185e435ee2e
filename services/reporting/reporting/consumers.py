"""The consumer that keeps the read models, the stream log and webhook queues.

Each event is applied to the read models (`read_models.py`) and the export
details (`export_consumers.py`) and, unless it carries personal data,
appended to the live stream and queued for webhooks, all in the consumer's
transaction. The read-model writes are order- and repetition-proof on their
own; the stream and the queues rely on the consumer's record of handled
event ids.

The consumer applies a fetched batch in one transaction (`apply_batch`)
and falls back to one event at a time (`HANDLERS`) when a batch fails. Both
paths take their writes from `EFFECTS`, so they cannot drift apart.
"""

from collections.abc import Sequence
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from reporting.audit import on_operator_command_run, on_personal_data_read
from reporting.batch import Step, apply_in_rounds, run_step
from reporting.export_consumers import RECORDERS
from reporting.fanout import fan_out, fan_out_batch
from reporting.models import common
from reporting.notifier import commit_notifier
from reporting.read_models import APPLIERS, Applier
from reporting.repository import VisitUpsert
from shared.auth import tenant_directory_handlers
from shared.consumer import EventConsumer, HandledEvent, Handler
from shared.events import Envelope
from shared.events.payloads import (
    AccountUpserted,
    ContactDataUpdated,
    OperatorCommandRun,
    PersonalDataRead,
    PromiseMade,
    VisitAppealed,
    VisitRequested,
)
from shared.events.topics import ALL_TOPICS
from shared.runtime import ServiceRuntime

CONSUMER_GROUP = "read-models"

# The account and the request carry the debtor's name, phone and address.
NOT_STREAMED = (AccountUpserted, VisitRequested)
# Streamed and sent as webhooks, with no figure of their own: the promise's
# amount comes from visit.completed, an appeal changes nothing until it is
# resolved, and new contact data goes to the tenant that owns the account.
STREAMED_ONLY = (PromiseMade, VisitAppealed, ContactDataUpdated)

STREAMED: frozenset[type] = frozenset(
    {event for event in APPLIERS if event not in NOT_STREAMED} | set(STREAMED_ONLY)
)


def _as_step(apply: Applier) -> Step:
    if isinstance(apply, VisitUpsert):
        return apply

    async def handle(session: AsyncSession, envelope: Envelope, payload: Any) -> None:
        await apply(session, payload)

    return handle


def _effects() -> dict[type, tuple[Step, ...]]:
    """Collect each event type's writes other than the stream and the queues."""
    effects: dict[type, list[Step]] = {event: [] for event in STREAMED_ONLY}
    for event, handler in tenant_directory_handlers(common).items():
        effects.setdefault(event, []).append(handler)  # type: ignore[arg-type]
    for event, apply in APPLIERS.items():
        effects.setdefault(event, []).append(_as_step(apply))
    # The export details go in the same transaction as the read models, so
    # the two tables never disagree about which events were seen.
    for event, record in RECORDERS.items():
        effects.setdefault(event, []).append(record)
    # Kept in the audit log only: never streamed, and not a read model.
    effects[PersonalDataRead] = [on_personal_data_read]
    effects[OperatorCommandRun] = [on_operator_command_run]
    return {event: tuple(steps) for event, steps in effects.items()}


EFFECTS = _effects()


def one_event_handler(steps: Sequence[Step], streamed: bool) -> Handler:
    """Build the handler that applies one event's writes, then streams and queues it."""

    async def handle(session: AsyncSession, envelope: Envelope, payload: Any) -> None:
        for step in steps:
            await run_step(step, session, envelope, payload)
        if streamed:
            await fan_out(session, envelope, payload.campaign_id)

    return handle


HANDLERS: dict[type, Handler] = {
    event: one_event_handler(steps, event in STREAMED)
    for event, steps in EFFECTS.items()
}


async def apply_batch(session: AsyncSession, events: Sequence[HandledEvent]) -> None:
    """Apply a batch of new events, then stream and queue them in batch order."""
    await apply_in_rounds(session, events, EFFECTS)
    await fan_out_batch(
        session, [event for event in events if type(event.payload) in STREAMED]
    )


def build_consumers(runtime: ServiceRuntime) -> list[EventConsumer]:
    notifier = commit_notifier(runtime)
    consumer = runtime.consumer(
        group=CONSUMER_GROUP,
        streams=list(ALL_TOPICS),
        handlers=HANDLERS,
        after_commit=notifier.notify,
        batch_handler=apply_batch,
    )
    return [consumer]
