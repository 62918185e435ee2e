"""The door rules applied to a check-in, with what they read from the database."""

from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from shared.tenancy import across_agents
from visits import door_rules, rules, rules_repository


async def check_at_door(
    session: AsyncSession,
    visit: Any,
    *,
    judged: datetime,
    visiting_hours: bool,
) -> None:
    """Raise one 422 when the check-in breaks the visiting hours or the weekly limit.

    `visit` is the row `repository.mark_checked_in` returned; the caller's
    transaction rolls its change back on the 422. Every check-in must fall
    in the visiting hours. Only the first check-in of a visit counts against
    the weekly limit: a second fix at the same door is the same visit.
    """
    errors: list[rules.FieldError] = []
    if visiting_hours:
        errors += door_rules.check_visiting_hours(
            judged,
            time_zone=visit.time_zone,
            start=visit.visiting_start,
            end=visit.visiting_end,
            days=visit.visiting_days,
        )
    if visit.check_in_count == 1 and visit.weekly_limit is not None:
        errors += await _weekly_limit_errors(session, visit, judged)
    rules.raise_if_any(errors)


async def _weekly_limit_errors(
    session: AsyncSession, visit: Any, judged: datetime
) -> list[rules.FieldError]:
    # The account's lock, taken with the state change, is held until commit,
    # so a concurrent first check-in on the same account waits for it and
    # then counts this one. The limit counts every agent's visits to the
    # account; only their dates reach the agent, in the refusal.
    async with across_agents(session):
        earlier = await rules_repository.account_visit_times(
            session,
            tenant_id=visit.tenant_id,
            account_id=visit.account_id,
            since=judged - door_rules.WEEK,
            except_visit_id=visit.visit_id,
        )
    return door_rules.check_weekly_limit(
        earlier, limit=visit.weekly_limit, time_zone=visit.time_zone
    )
