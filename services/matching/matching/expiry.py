"""The expiry pass: offers past their time, and requests whose wait is over."""

import uuid
from collections import Counter
from datetime import UTC, datetime

import structlog
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from matching import repository
from matching.dispatch import DispatchOutcome, Emit
from matching.offers import expire_offers
from matching.settings import MatchingSettings

log = structlog.get_logger(__name__)


async def expire_due(
    sessionmaker: async_sessionmaker[AsyncSession],
    *,
    emit: Emit,
    settings: MatchingSettings,
) -> Counter[DispatchOutcome]:
    """Handle every due request once, each in a transaction of its own.

    Returns the count of each outcome; an empty counter when nothing was due.
    A request that fails stays due, so the next pass tries it again.
    """
    async with sessionmaker() as session, session.begin():
        due = await repository.due_requests(
            session, now=datetime.now(UTC), limit=settings.offer_expiry_batch_size
        )
    outcomes: Counter[DispatchOutcome] = Counter()
    for visit_id in due:
        outcomes[await _expire_one(sessionmaker, visit_id, emit, settings)] += 1
    return outcomes


async def _expire_one(
    sessionmaker: async_sessionmaker[AsyncSession],
    visit_id: uuid.UUID,
    emit: Emit,
    settings: MatchingSettings,
) -> DispatchOutcome:
    # Each visit reads the clock when its turn comes (in `expire_offers`), so
    # an offer made late in a long pass still gets its whole timeout.
    try:
        async with sessionmaker() as session, session.begin():
            return await expire_offers(session, visit_id, emit=emit, settings=settings)
    except Exception:
        log.exception("dispatch.expiry_failed", visit_id=str(visit_id))
        return DispatchOutcome.FAILED
