"""The door rules applied to a check-in, with what they read from the database."""

from datetime import datetime
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession

from visits import door_rules, repository, rules, rules_repository
from visits.models import Visit
from visits.states import OPEN_AGENT_STATES, VisitState


async def check_at_door(
    session: AsyncSession,
    *,
    agent_id: UUID,
    visit_id: UUID,
    judged: datetime,
    visiting_hours: bool,
) -> None:
    """Raise one 422 when the check-in breaks the visiting hours or the weekly limit.

    Every check-in must fall in the visiting hours. Only the first check-in of
    a visit counts against the weekly limit: a second fix at the same door is
    the same visit. A missing or closed visit is left to the state
    transition's 404 or 409.
    """
    row = await repository.visit_at_door(session, agent_id, visit_id)
    if row is None or row.Visit.state not in OPEN_AGENT_STATES:
        return
    visit: Visit = row.Visit
    errors: list[rules.FieldError] = []
    if visiting_hours:
        errors += door_rules.check_visiting_hours(
            judged,
            time_zone=visit.time_zone,
            start=visit.visiting_start,
            end=visit.visiting_end,
            days=visit.visiting_days,
        )
    if visit.state == VisitState.ASSIGNED and row.weekly_limit is not None:
        errors += await _weekly_limit_errors(session, visit, judged, row.weekly_limit)
    rules.raise_if_any(errors)


async def _weekly_limit_errors(
    session: AsyncSession, visit: Visit, judged: datetime, limit: int
) -> list[rules.FieldError]:
    # Held until commit, so a concurrent first check-in on the same account
    # waits here and then counts this one.
    await rules_repository.lock_account(session, visit.tenant_id, visit.account_id)
    earlier = await rules_repository.account_visit_times(
        session,
        tenant_id=visit.tenant_id,
        account_id=visit.account_id,
        since=judged - door_rules.WEEK,
        except_visit_id=visit.visit_id,
    )
    return door_rules.check_weekly_limit(
        earlier, limit=limit, time_zone=visit.time_zone
    )
