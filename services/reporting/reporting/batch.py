"""Apply a batch of events to the read models with few statements.

A batch can hold several events about one visit, on different topics, and
the appliers merge a visit's events in the order they are applied (a tie
between two promise statuses goes to the later one). So the batch is split
into rounds: the n-th event of each visit goes into round n, and the rounds
run in order. Inside a round no visit appears twice, so all its rows of one
`VisitUpsert` go into one INSERT ... ON CONFLICT statement, which PostgreSQL
allows only when no row is updated twice. Other writes run one event at a
time, in batch order inside their round.
"""

from collections import Counter
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from reporting.repository import VisitUpsert, upsert_visit_rows
from shared.consumer import HandledEvent
from shared.events import Envelope

EventWrite = Callable[[AsyncSession, Envelope, Any], Awaitable[None]]
Step = VisitUpsert | EventWrite


def ordering_key(event: HandledEvent) -> str:
    """Return what orders an event in its batch: its visit, else its Kafka key."""
    visit_id = getattr(event.payload, "visit_id", None)
    return str(visit_id) if visit_id is not None else event.envelope.subject


def in_rounds(events: Sequence[HandledEvent]) -> list[list[HandledEvent]]:
    """Split events into rounds with one event per key, keeping each key's order."""
    rounds: list[list[HandledEvent]] = []
    seen: Counter[str] = Counter()
    for event in events:
        key = ordering_key(event)
        position = seen[key]
        seen[key] += 1
        if position == len(rounds):
            rounds.append([])
        rounds[position].append(event)
    return rounds


def by_step(
    events: Sequence[HandledEvent], effects: Mapping[type, Sequence[Step]]
) -> dict[Step, list[HandledEvent]]:
    """Group a round's events under each step they take, in order of first use."""
    groups: dict[Step, list[HandledEvent]] = {}
    for event in events:
        for step in effects[type(event.payload)]:
            groups.setdefault(step, []).append(event)
    return groups


async def run_step(
    step: Step, session: AsyncSession, envelope: Envelope, payload: Any
) -> None:
    if isinstance(step, VisitUpsert):
        await step(session, payload)
    else:
        await step(session, envelope, payload)


async def apply_in_rounds(
    session: AsyncSession,
    events: Sequence[HandledEvent],
    effects: Mapping[type, Sequence[Step]],
) -> None:
    for round_events in in_rounds(events):
        for step, stepped in by_step(round_events, effects).items():
            if isinstance(step, VisitUpsert):
                await _upsert_all(session, step, stepped)
            else:
                for envelope, payload in stepped:
                    await step(session, envelope, payload)


async def _upsert_all(
    session: AsyncSession, upsert: VisitUpsert, events: Sequence[HandledEvent]
) -> None:
    rows = [row for event in events if (row := upsert.row(event.payload)) is not None]
    if rows:
        await upsert_visit_rows(session, upsert.table, rows, upsert.set_clause)
