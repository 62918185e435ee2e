"""The consumer that keeps the read models, the stream log and webhook queues.

Each event is applied to the read models (`read_models.py`) and, unless it
carries personal data, appended to the live stream and queued for webhooks,
all in the consumer's transaction. The read-model writes are order- and
repetition-proof on their own; the stream and the queues rely on the
consumer's record of handled event ids.
"""

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from reporting.audit import on_operator_command_run, on_personal_data_read
from reporting.export_consumers import with_export_details
from reporting.fanout import fan_out
from reporting.models import common
from reporting.notifier import commit_notifier
from reporting.read_models import APPLIERS, Applier
from shared.auth import tenant_directory_handlers
from shared.consumer import EventConsumer
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


def applied_then_streamed(apply: Applier | None) -> Any:
    """Build a handler that applies the event, then streams and queues it."""

    async def handle(session: AsyncSession, envelope: Envelope, payload: Any) -> None:
        if apply is not None:
            await apply(session, payload)
        await fan_out(session, envelope, payload.campaign_id)

    return handle


def applied_only(apply: Applier) -> Any:
    async def handle(session: AsyncSession, envelope: Envelope, payload: Any) -> None:
        await apply(session, payload)

    return handle


HANDLERS: dict[type, Any] = {
    **tenant_directory_handlers(common),
    **{
        event: applied_only(apply)
        if event in NOT_STREAMED
        else applied_then_streamed(apply)
        for event, apply in APPLIERS.items()
    },
    **{event: applied_then_streamed(None) for event in STREAMED_ONLY},
    # Kept in the audit log only: never streamed, and not a read model.
    PersonalDataRead: on_personal_data_read,
    OperatorCommandRun: on_operator_command_run,
}


def build_consumers(runtime: ServiceRuntime) -> list[EventConsumer]:
    notifier = commit_notifier(runtime)
    consumer = runtime.consumer(
        group=CONSUMER_GROUP,
        streams=list(ALL_TOPICS),
        handlers=with_export_details(HANDLERS),
        after_commit=notifier.notify,
    )
    return [consumer]
