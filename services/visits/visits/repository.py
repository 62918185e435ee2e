"""All SQL of the visits service.

Every state change is one conditional UPDATE ... WHERE state IN (allowed)
RETURNING; `None` back means the visit is missing or in another state.
"""

import functools
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from geoalchemy2 import Geography, Geometry
from sqlalchemy import (
    ColumnElement,
    DateTime,
    Float,
    Insert,
    Row,
    String,
    and_,
    bindparam,
    case,
    cast,
    func,
    insert,
    literal,
    or_,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from shared.events.payloads import AssignmentReleased, ReleaseReason, VisitRequested
from shared.outbox import OutboxRows, outbox_rows_insert
from visits.models import (
    AssignmentRelease,
    CheckIn,
    Promise,
    PromisePayment,
    TenantVisitRules,
    Visit,
    VisitResult,
    common,
)
from visits.states import VisitState, allowed_sources

WGS84 = 4326
# The key of the advisory lock on one account's first check-ins, followed
# by "<tenant_id>:<account_id>".
ACCOUNT_LOCK_PREFIX = "visits.account:"
OPEN_STATUSES = ("pending", "partly_kept")
# A broken promise still accepts a late payment.
PAYABLE_STATUSES = (*OPEN_STATUSES, "broken")


def _point(lat: float, lon: float) -> ColumnElement[Any]:
    return cast(
        func.ST_SetSRID(func.ST_MakePoint(lon, lat), WGS84), Geography(srid=WGS84)
    )


def _transition(
    visit_id: Any, target: VisitState, *, agent_id: Any | None = None
) -> Any:
    conditions = [
        Visit.visit_id == visit_id,
        Visit.state.in_(allowed_sources(target)),
    ]
    if agent_id is not None:
        conditions.append(Visit.agent_id == agent_id)
    return (
        update(Visit)
        .where(*conditions)
        .values(state=target.value, updated_at=func.now())
        .execution_options(synchronize_session=False)
    )


# --- consumers --------------------------------------------------------------


async def insert_requested(session: AsyncSession, request: VisitRequested) -> bool:
    """Insert a visit in `requested`; return False when it was already there."""
    address = request.address
    balance = request.balance_overdue
    statement = (
        pg_insert(Visit)
        .values(
            visit_id=request.visit_id,
            tenant_id=request.tenant_id,
            campaign_id=request.campaign_id,
            account_id=request.account_id,
            account_key=request.account_key,
            attempt=request.attempt,
            state=VisitState.REQUESTED.value,
            objective=request.brief.objective,
            questions=request.brief.questions,
            max_discount_pct=request.brief.max_discount_pct,
            brief=request.brief.model_dump(mode="json"),
            debtor_name=request.debtor_name,
            phone=request.phone,
            street=address.street,
            exterior_number=address.exterior_number,
            interior_number=address.interior_number,
            colonia=address.colonia,
            municipality=address.municipality,
            address_state=address.state,
            postal_code=address.postal_code,
            cross_streets=address.cross_streets,
            address_references=address.address_references,
            location=_point(request.location.lat, request.location.lon),
            location_precision=request.location_precision,
            location_accuracy_m=request.location_accuracy_m,
            balance_amount=balance.amount if balance else None,
            balance_currency=balance.currency if balance else None,
            days_past_due=request.days_past_due,
            deadline=request.deadline,
            fee_amount=request.fee.amount,
            fee_currency=request.fee.currency,
            requested_at=request.requested_at,
            check_in_count=0,
            time_zone=request.time_zone,
            **_visiting_hours(request),
        )
        .on_conflict_do_nothing(index_elements=[Visit.visit_id])
        .returning(Visit.visit_id)
    )
    return (await session.execute(statement)).first() is not None


def _visiting_hours(request: VisitRequested) -> dict[str, Any]:
    hours = request.dispatch.visiting_hours if request.dispatch else None
    if hours is None:
        return {}
    days = hours.allowed_days
    return {
        "visiting_start": hours.start,
        "visiting_end": hours.end,
        "visiting_days": None if days is None else [day.value for day in days],
    }


async def assign(
    session: AsyncSession,
    visit_id: UUID,
    *,
    agent_id: UUID,
    assigned_at: datetime,
    assignment_id: UUID | None = None,
) -> Row[Any] | None:
    statement = (
        _transition(visit_id, VisitState.ASSIGNED)
        .values(agent_id=agent_id, assigned_at=assigned_at, assignment_id=assignment_id)
        .returning(
            Visit.tenant_id, Visit.campaign_id, Visit.account_id, Visit.requested_at
        )
    )
    return (await session.execute(statement)).first()


async def record_release(session: AsyncSession, release: AssignmentReleased) -> bool:
    """Store a released assignment; False when it was stored before."""
    statement = (
        pg_insert(AssignmentRelease)
        .values(
            assignment_id=release.assignment_id,
            visit_id=release.visit_id,
            tenant_id=release.tenant_id,
            agent_id=release.agent_id,
            reason=release.reason.value,
            released_at=release.released_at,
        )
        .on_conflict_do_nothing(index_elements=[AssignmentRelease.assignment_id])
        .returning(AssignmentRelease.assignment_id)
    )
    return (await session.execute(statement)).first() is not None


async def was_released(session: AsyncSession, assignment_id: UUID) -> bool:
    found = await session.scalar(
        select(AssignmentRelease.assignment_id).where(
            AssignmentRelease.assignment_id == assignment_id
        )
    )
    return found is not None


async def unassign(
    session: AsyncSession, visit_id: UUID, *, assignment_id: UUID, agent_id: UUID
) -> Row[Any] | None:
    """Put an assigned visit back to `requested` if it is under this assignment.

    Keyed on the assignment, so a late release of an earlier assignment
    never takes the visit from the next agent. A visit assigned before
    assignment ids were stored is matched on its agent. Returns the visit's
    tenant, campaign and account, or None when nothing changed.
    """
    current = or_(
        Visit.assignment_id == assignment_id,
        and_(Visit.assignment_id.is_(None), Visit.agent_id == agent_id),
    )
    statement = (
        _transition(visit_id, VisitState.REQUESTED)
        .where(current)
        .values(agent_id=None, assigned_at=None, assignment_id=None)
        .returning(Visit.tenant_id, Visit.campaign_id, Visit.account_id)
    )
    return (await session.execute(statement)).first()


async def release_from(
    session: AsyncSession, visit_id: UUID, agent_id: UUID
) -> Row[Any] | None:
    """Return the agent's latest release of the visit, a withdrawal aside."""
    statement = (
        select(AssignmentRelease.reason, AssignmentRelease.released_at)
        .where(
            AssignmentRelease.visit_id == visit_id,
            AssignmentRelease.agent_id == agent_id,
            AssignmentRelease.reason != ReleaseReason.VISIT_WITHDRAWN.value,
        )
        .order_by(AssignmentRelease.released_at.desc())
        .limit(1)
    )
    return (await session.execute(statement)).first()


async def close_unmatched(
    session: AsyncSession,
    visit_id: UUID,
    *,
    target: VisitState,
    reason: str,
    nearest_agent_distance_m: float | None,
    decided_at: datetime,
) -> Row[Any] | None:
    statement = (
        _transition(visit_id, target)
        .values(
            state_reason=reason,
            nearest_agent_distance_m=nearest_agent_distance_m,
            closed_at=decided_at,
        )
        .returning(Visit.tenant_id, Visit.campaign_id, Visit.account_id, Visit.agent_id)
    )
    return (await session.execute(statement)).first()


# A withdrawal cancels only visits the agent has not reached yet.
WITHDRAWABLE = (VisitState.REQUESTED.value, VisitState.ASSIGNED.value)


async def withdraw(
    session: AsyncSession, visit_id: UUID, *, reason: str, at: datetime
) -> Row[Any] | None:
    statement = (
        update(Visit)
        .where(Visit.visit_id == visit_id, Visit.state.in_(WITHDRAWABLE))
        .values(
            state=VisitState.CANCELLED.value,
            state_reason=reason,
            closed_at=at,
            updated_at=func.now(),
        )
        .returning(Visit.tenant_id, Visit.campaign_id, Visit.account_id, Visit.agent_id)
        .execution_options(synchronize_session=False)
    )
    return (await session.execute(statement)).first()


async def payment_applied(session: AsyncSession, payment_id: UUID) -> bool:
    """Return whether a payment was already stored, for a promise or for later."""
    statement = select(PromisePayment.payment_id).where(
        PromisePayment.payment_id == payment_id
    )
    return (await session.execute(statement)).first() is not None


async def apply_payment(
    session: AsyncSession,
    *,
    payment_id: UUID,
    tenant_id: UUID,
    account_id: UUID,
    amount: Decimal,
    currency: str,
    at: datetime,
    paid_on: date | None = None,
) -> UUID | None:
    """Add a payment to the account's latest promise not yet kept, in its currency.

    A broken promise still accepts the payment. Paid in full it is kept late,
    otherwise partly kept, and its `broken_at` stays. Returns the promise's id, or
    None without an open promise or when the payment was already applied. A
    payment without an open promise is kept for the account, so that a promise
    recorded later can take it.
    """
    target = (
        await session.execute(
            select(Promise.promise_id)
            .join(Visit, Visit.visit_id == Promise.visit_id)
            .where(
                Promise.tenant_id == tenant_id,
                Visit.account_id == account_id,
                Promise.currency == currency,
                Promise.status.in_(PAYABLE_STATUSES),
            )
            .order_by(Promise.created_at.desc(), Promise.promise_id)
            .limit(1)
            .with_for_update(of=Promise)
        )
    ).scalar_one_or_none()
    recorded = (
        await session.execute(
            pg_insert(PromisePayment)
            .values(
                payment_id=payment_id,
                promise_id=target,
                tenant_id=tenant_id,
                account_id=account_id,
                currency=currency,
                paid_on=paid_on,
                amount=amount,
                reported_at=at,
            )
            .on_conflict_do_nothing()
            .returning(PromisePayment.payment_id)
        )
    ).first()
    if recorded is None or target is None:
        return None
    await credit_promise(session, target, amount=amount, at=at)
    return target


async def credit_promise(
    session: AsyncSession, promise_id: UUID, *, amount: Decimal, at: datetime
) -> None:
    """Add a payment to a promise's amount kept, and make it partly kept or kept."""
    kept = Promise.amount_kept + amount
    statement = (
        update(Promise)
        .where(Promise.promise_id == promise_id)
        .values(
            amount_kept=kept,
            status=case((kept >= Promise.amount, "kept"), else_="partly_kept"),
            kept_at=case((kept >= Promise.amount, at), else_=None),
        )
        .execution_options(synchronize_session=False)
    )
    await session.execute(statement)


async def lock_account_payments(session: AsyncSession, account_id: UUID) -> None:
    """Serialize a payment and a new promise of one account until commit.

    Without it, a payment stored as unclaimed while a promise is being
    recorded would be invisible to both: the payment finds no promise, and
    the promise does not see the uncommitted payment.
    """
    await session.execute(select(_payments_lock(str(account_id))))


def _payments_lock(account_id: Any) -> ColumnElement[Any]:
    """Take the lock keyed on the account id's text: a column, or a str value."""
    return func.pg_advisory_xact_lock(
        func.hashtextextended(cast(account_id, String), 0)
    )


def claim_parameters(
    *,
    promise_id: UUID,
    tenant_id: UUID,
    account_id: UUID,
    currency: str,
    since: date,
) -> dict[str, Any]:
    """Bind a new promise's claim on the account's unclaimed payments.

    The claim takes the payments in the account's currency paid on `since`
    or later that no promise took yet. It runs in `insert_result`'s
    statement, as one UPDATE, so a payment consumer running at the same
    time either claims a payment first or finds it taken.
    """
    return {
        "target_tenant_id": tenant_id,
        "target_account_id": account_id,
        "target_currency": currency,
        "since": since,
        "new_promise_id": promise_id,
    }


def _claim_payments_statement() -> Any:
    payments = PromisePayment.__table__
    return (
        update(payments)
        .where(
            payments.c.tenant_id == bindparam("target_tenant_id"),
            payments.c.account_id == bindparam("target_account_id"),
            payments.c.currency == bindparam("target_currency"),
            payments.c.promise_id.is_(None),
            payments.c.paid_on >= bindparam("since"),
        )
        .values(promise_id=bindparam("new_promise_id"))
        .returning(
            payments.c.payment_id,
            payments.c.amount,
            payments.c.paid_on,
            payments.c.reported_at,
        )
    )


# Runs in the INSERT of every result with a promise. Built once, like RESULT_VISIT.
CLAIM_PAYMENTS = _claim_payments_statement()


def _promise_columns() -> tuple[Any, ...]:
    return (
        Promise.promise_id,
        Promise.tenant_id,
        Promise.visit_id,
        Visit.campaign_id,
        Visit.account_id,
        Promise.amount,
        Promise.currency,
        Promise.amount_kept,
        Promise.due_date,
        Promise.status,
        Promise.broken_at,
    )


async def promises_for_events(
    session: AsyncSession, promise_ids: list[UUID]
) -> list[Row[Any]]:
    """Return what a promise event carries, for each of the promises."""
    statement = (
        select(*_promise_columns())
        .join(Visit, Visit.visit_id == Promise.visit_id)
        .where(Promise.promise_id.in_(promise_ids))
        .order_by(Promise.due_date, Promise.promise_id)
    )
    return list((await session.execute(statement)).all())


async def overdue_candidates(
    session: AsyncSession, *, today_utc: date, default_grace_days: int, limit: int
) -> list[Row[Any]]:
    """Lock open promises whose last day to pay may be over, oldest due first.

    No time zone's date is more than one day past UTC's, so a promise whose
    last day is after today in UTC cannot be over anywhere yet. The caller
    checks the address's own date. Rows locked by another pass are skipped.
    """
    grace = func.coalesce(TenantVisitRules.promise_grace_days, default_grace_days)
    statement = (
        select(
            Promise.promise_id, Promise.due_date, Visit.time_zone, grace.label("grace")
        )
        .join(Visit, Visit.visit_id == Promise.visit_id)
        .outerjoin(TenantVisitRules, TenantVisitRules.tenant_id == Promise.tenant_id)
        .where(
            Promise.status.in_(OPEN_STATUSES),
            Promise.broken_at.is_(None),
            Promise.due_date + grace <= today_utc,
        )
        .order_by(Promise.due_date, Promise.promise_id)
        .limit(limit)
        .with_for_update(of=Promise, skip_locked=True)
    )
    return list((await session.execute(statement)).all())


async def mark_broken(
    session: AsyncSession, promise_ids: list[UUID], *, at: datetime
) -> list[UUID]:
    statement = (
        update(Promise)
        .where(
            Promise.promise_id.in_(promise_ids),
            Promise.status.in_(OPEN_STATUSES),
            Promise.broken_at.is_(None),
        )
        .values(status="broken", broken_at=at)
        .returning(Promise.promise_id)
        .execution_options(synchronize_session=False)
    )
    return list((await session.scalars(statement)).all())


async def visit_state(
    session: AsyncSession, visit_id: UUID, *, agent_id: UUID | None = None
) -> str | None:
    statement = select(Visit.state).where(Visit.visit_id == visit_id)
    if agent_id is not None:
        statement = statement.where(Visit.agent_id == agent_id)
    return await session.scalar(statement)


# --- agent API --------------------------------------------------------------


def _with_coordinates() -> Any:
    geometry = cast(Visit.location, Geometry(srid=WGS84))
    return select(
        Visit, func.ST_Y(geometry).label("lat"), func.ST_X(geometry).label("lon")
    )


async def agent_visits(
    session: AsyncSession,
    agent_id: UUID,
    *,
    states: list[str],
    limit: int,
    offset: int,
) -> list[Row[Any]]:
    statement = (
        _with_coordinates()
        .where(
            Visit.agent_id == agent_id,
            Visit.state.in_(states),
            Visit.state != VisitState.CANCELLED.value,
        )
        .order_by(Visit.deadline, Visit.visit_id)
        .limit(limit)
        .offset(offset)
    )
    return list((await session.execute(statement)).all())


async def agent_visit(
    session: AsyncSession, agent_id: UUID, visit_id: UUID
) -> Row[Any] | None:
    # A cancelled visit was taken back from the agent, who no longer sees it.
    statement = _with_coordinates().where(
        Visit.visit_id == visit_id,
        Visit.agent_id == agent_id,
        Visit.state != VisitState.CANCELLED.value,
    )
    return (await session.execute(statement)).first()


async def agent_visit_and_submission(
    session: AsyncSession, agent_id: UUID, visit_id: UUID, submission_id: str
) -> Row[Any] | None:
    """Return what a result reads of the agent's visit, and a stored result.

    `stored_visit_id` and `stored_response` are None when the agent filed
    nothing under `submission_id`, for any visit. One statement, so the
    visit and the stored result come from the same snapshot. Only the
    columns a result needs: the whole row cost more to load than to read.
    """
    parameters = {
        "target_visit_id": visit_id,
        "target_agent_id": agent_id,
        "submission_id": submission_id,
    }
    return (await session.execute(RESULT_VISIT, parameters)).first()


# The visit's columns that validating, storing and announcing a result read.
RESULT_VISIT_COLUMNS = (
    "visit_id",
    "tenant_id",
    "campaign_id",
    "account_id",
    "account_key",
    "state",
    "questions",
    "balance_amount",
    "balance_currency",
    "fee_currency",
    "checked_in_at",
    "time_zone",
    "location_precision",
    "location_accuracy_m",
)


def _result_visit_statement() -> Any:
    visits, results = Visit.__table__, VisitResult.__table__
    agent_id = bindparam("target_agent_id")
    return (
        select(
            *(visits.c[name] for name in RESULT_VISIT_COLUMNS),
            results.c.visit_id.label("stored_visit_id"),
            results.c.response.label("stored_response"),
        )
        .outerjoin(
            results,
            and_(
                results.c.agent_id == agent_id,
                results.c.submission_id == bindparam("submission_id"),
            ),
        )
        .where(
            visits.c.visit_id == bindparam("target_visit_id"),
            visits.c.agent_id == agent_id,
            visits.c.state != VisitState.CANCELLED.value,
        )
    )


# The statements a result runs on every request are built once, on the
# tables rather than the mapped classes: building and keying them anew,
# and the ORM's handling of each, cost more CPU than the database's work.
RESULT_VISIT = _result_visit_statement()


async def mark_checked_in(
    session: AsyncSession,
    visit_id: UUID,
    *,
    agent_id: UUID,
    lat: float,
    lon: float,
    now: datetime,
) -> Row[Any] | None:
    """Move to `checked_in` (or stay); return all a check-in reads of the visit.

    `check_in_count` is 1 in the returned row only for the first check-in,
    the one that moved the visit from `assigned`. The row carries the
    distance to the address, the visiting hours, the tenant's weekly limit
    as `weekly_limit` (None when it set none) and `has_verified_check_in`
    from before this one. On a first check-in under a weekly limit, the
    account's advisory lock is taken before the row comes back and held
    until commit. Without it, two agents at two visits of one account could
    both count the account's visits under the limit and both check in. The
    count follows in its own statement, so it sees every first check-in
    committed before the lock was granted. One statement, where reading the
    visit, locking and moving it took three.
    """
    # Named apart from the columns, which UPDATE reserves for its SET values.
    parameters = {
        "target_visit_id": visit_id,
        "target_agent_id": agent_id,
        "lat": lat,
        "lon": lon,
        "now": now,
    }
    return (await session.execute(CHECK_IN_STATEMENT, parameters)).first()


def _check_in_statement() -> Any:
    visits, check_ins = Visit.__table__, CheckIn.__table__
    rules = TenantVisitRules.__table__
    lat, lon = bindparam("lat", type_=Float), bindparam("lon", type_=Float)
    distance = func.ST_Distance(visits.c.location, _point(lat, lon))
    weekly_limit = (
        select(rules.c.max_visits_per_account_week)
        .where(rules.c.tenant_id == visits.c.tenant_id)
        .scalar_subquery()
    )
    verified_before = (
        select(check_ins.c.check_in_id)
        .where(
            check_ins.c.visit_id == visits.c.visit_id, check_ins.c.verified.is_(True)
        )
        .exists()
    )
    account_lock = case(
        (
            and_(visits.c.check_in_count == 1, weekly_limit.is_not(None)),
            func.pg_advisory_xact_lock(
                func.hashtextextended(
                    ACCOUNT_LOCK_PREFIX
                    + cast(visits.c.tenant_id, String)
                    + ":"
                    + cast(visits.c.account_id, String),
                    0,
                )
            ),
        )
    )
    statement = (
        update(visits)
        .where(
            visits.c.visit_id == bindparam("target_visit_id"),
            visits.c.state.in_(allowed_sources(VisitState.CHECKED_IN)),
            visits.c.agent_id == bindparam("target_agent_id"),
        )
        .values(
            state=VisitState.CHECKED_IN.value,
            updated_at=func.now(),
            checked_in_at=func.coalesce(
                visits.c.checked_in_at, bindparam("now", type_=DateTime(timezone=True))
            ),
            check_in_count=visits.c.check_in_count + 1,
        )
        .returning(
            visits.c.visit_id,
            visits.c.tenant_id,
            visits.c.campaign_id,
            visits.c.account_id,
            visits.c.state,
            visits.c.check_in_count,
            distance.label("distance_m"),
            visits.c.location_precision,
            visits.c.location_accuracy_m,
            *_lat_lon(visits.c.location),
            visits.c.time_zone,
            visits.c.visiting_start,
            visits.c.visiting_end,
            visits.c.visiting_days,
            weekly_limit.label("weekly_limit"),
            verified_before.label("has_verified_check_in"),
            account_lock.label("account_locked"),
        )
    )
    return statement


def _lat_lon(location: Any) -> tuple[ColumnElement[float], ColumnElement[float]]:
    geometry = cast(location, Geometry(srid=WGS84))
    return func.ST_Y(geometry).label("lat"), func.ST_X(geometry).label("lon")


# Built once: SQLAlchemy then derives its cache key once, instead of building
# and keying its subqueries on every check-in (about 1 ms of CPU).
CHECK_IN_STATEMENT = _check_in_statement()


async def insert_check_in(
    session: AsyncSession,
    *,
    lat: float,
    lon: float,
    events: OutboxRows | None = None,
    **values: Any,
) -> None:
    """Insert a check-in, and the outbox rows in `events` in the same statement."""
    parameters = {"lat": lat, "lon": lon, **_bound("check_in", values)}
    event_count = 0
    if events is not None:
        event_count = events.count
        parameters.update(events.parameters)
    statement = _check_in_insert(tuple(values), event_count)
    await session.execute(statement, parameters)


@functools.cache
def _check_in_insert(columns: tuple[str, ...], event_count: int) -> Insert:
    """Build the check-in's INSERT as a CTE of its outbox rows' INSERT."""
    check_ins = CheckIn.__table__
    lat, lon = bindparam("lat", type_=Float), bindparam("lon", type_=Float)
    statement = insert(check_ins).values(
        location=_point(lat, lon), **_bindparams(check_ins, "check_in", columns)
    )
    if not event_count:
        return statement
    return outbox_rows_insert(common.outbox, event_count).add_cte(
        statement.cte("written")
    )


def _bound(prefix: str, values: dict[str, Any]) -> dict[str, Any]:
    return {f"{prefix}_{name}": value for name, value in values.items()}


def _bindparams(table: Any, prefix: str, columns: tuple[str, ...]) -> dict[str, Any]:
    """Bind each column's value as `<prefix>_<column>`, typed like the column.

    The other columns with a Python default get it as a literal. SQLAlchemy
    fills those defaults in only when the whole statement is an INSERT, and
    a claiming result's statement is a SELECT over INSERT CTEs.
    """
    values: dict[str, Any] = {
        name: bindparam(f"{prefix}_{name}", type_=table.c[name].type)
        for name in columns
    }
    for column in table.c:
        if column.name in values or column.default is None:
            continue
        if not column.default.is_scalar:
            raise ValueError(
                f"column {table.name}.{column.name} has a computed default, so "
                "pass its value to the statement"
            )
        values[column.name] = literal(column.default.arg, column.type)
    return values


async def stored_submission(
    session: AsyncSession, agent_id: UUID, submission_id: str
) -> Row[Any] | None:
    statement = select(VisitResult.visit_id, VisitResult.response).where(
        VisitResult.agent_id == agent_id,
        VisitResult.submission_id == submission_id,
    )
    return (await session.execute(statement)).first()


async def mark_completed(
    session: AsyncSession,
    visit_id: UUID,
    *,
    agent_id: UUID,
    now: datetime,
    lock_payments: bool,
) -> bool:
    """Move a checked-in visit to `completed`; False when it is not checked in.

    With `lock_payments`, the account's payments lock (see
    `lock_account_payments`) is taken in the same statement, after the
    visit's row lock, and held until commit.
    """
    statement = COMPLETE_AND_LOCK_PAYMENTS if lock_payments else COMPLETE
    parameters = {"target_visit_id": visit_id, "target_agent_id": agent_id, "now": now}
    return (await session.execute(statement, parameters)).first() is not None


def _complete_statement(*, lock_payments: bool) -> Any:
    visits = Visit.__table__
    now = bindparam("now", type_=DateTime(timezone=True))
    columns: list[Any] = [visits.c.visit_id]
    if lock_payments:
        columns.append(_payments_lock(visits.c.account_id).label("payments_locked"))
    return (
        update(visits)
        .where(
            visits.c.visit_id == bindparam("target_visit_id"),
            visits.c.state.in_(allowed_sources(VisitState.COMPLETED)),
            visits.c.agent_id == bindparam("target_agent_id"),
        )
        .values(
            state=VisitState.COMPLETED.value,
            updated_at=func.now(),
            completed_at=now,
            closed_at=now,
        )
        .returning(*columns)
    )


COMPLETE = _complete_statement(lock_payments=False)
COMPLETE_AND_LOCK_PAYMENTS = _complete_statement(lock_payments=True)


async def insert_result(
    session: AsyncSession,
    *,
    promise: dict[str, Any] | None,
    events: OutboxRows,
    claim: dict[str, Any] | None = None,
    **values: Any,
) -> list[Row[Any]]:
    """Insert a result, its promise if any, and its events: one statement.

    The result, the promise and the outbox rows are written by CTEs of one
    statement. The promise's foreign key to the result, and a claimed
    payment's to the promise, are satisfied, because PostgreSQL checks them
    at the end of the statement. With `claim` (see `claim_parameters`), the
    same statement gives the promise the payments it claims, and they are
    returned oldest first; without, nothing is returned.
    """
    parameters = {**_bound("result", values), **events.parameters}
    promise_columns = None
    if promise is not None:
        parameters.update(_bound("promise", promise))
        promise_columns = tuple(promise)
    if claim is not None:
        parameters.update(claim)
    statement = _result_insert(
        tuple(values), promise_columns, events.count, claiming=claim is not None
    )
    result = await session.execute(statement, parameters)
    if claim is None:
        return []
    return sorted(result.all(), key=lambda row: (row.paid_on, row.reported_at))


@functools.cache
def _result_insert(
    columns: tuple[str, ...],
    promise_columns: tuple[str, ...] | None,
    event_count: int,
    *,
    claiming: bool,
) -> Any:
    """Build the statement that writes a result, its promise, events and claim."""
    results = VisitResult.__table__
    written = [
        insert(results).values(**_bindparams(results, "result", columns)).cte("result")
    ]
    if promise_columns is not None:
        promises = Promise.__table__
        promise_insert = insert(promises).values(
            **_bindparams(promises, "promise", promise_columns)
        )
        written.append(promise_insert.cte("promise"))
    events = outbox_rows_insert(common.outbox, event_count)
    if not claiming:
        return events.add_cte(*written)
    claimed = CLAIM_PAYMENTS.cte("claimed")
    return select(claimed).add_cte(*written, events.cte("events"), claimed)


# --- tenant API -------------------------------------------------------------


def _first_check_in_distance() -> Any:
    return (
        select(CheckIn.distance_m)
        .where(CheckIn.visit_id == Visit.visit_id)
        .order_by(CheckIn.server_time, CheckIn.check_in_id)
        .limit(1)
        .scalar_subquery()
        .label("first_check_in_distance_m")
    )


def _result_flag() -> Any:
    return (
        select(VisitResult.flagged)
        .where(VisitResult.visit_id == Visit.visit_id)
        .scalar_subquery()
    )


async def tenant_visits(
    session: AsyncSession,
    tenant_id: UUID,
    *,
    campaign_id: UUID | None,
    state: str | None,
    limit: int,
    offset: int,
    flagged: bool | None = None,
) -> tuple[list[Row[Any]], int]:
    conditions = [Visit.tenant_id == tenant_id]
    if campaign_id is not None:
        conditions.append(Visit.campaign_id == campaign_id)
    if state is not None:
        conditions.append(Visit.state == state)
    if flagged is not None:
        conditions.append(func.coalesce(_result_flag(), False) == flagged)
    total = await session.scalar(
        select(func.count()).select_from(Visit).where(*conditions)
    )
    statement = (
        select(Visit, _first_check_in_distance(), _result_flag().label("flagged"))
        .where(*conditions)
        .order_by(Visit.requested_at.desc(), Visit.visit_id)
        .limit(limit)
        .offset(offset)
    )
    return list((await session.execute(statement)).all()), total or 0


async def tenant_visit(
    session: AsyncSession, tenant_id: UUID, visit_id: UUID
) -> Row[Any] | None:
    statement = select(
        Visit, _first_check_in_distance(), _result_flag().label("flagged")
    ).where(Visit.visit_id == visit_id, Visit.tenant_id == tenant_id)
    return (await session.execute(statement)).first()


async def check_ins_of(session: AsyncSession, visit_id: UUID) -> list[CheckIn]:
    statement = (
        select(CheckIn)
        .where(CheckIn.visit_id == visit_id)
        .order_by(CheckIn.server_time, CheckIn.check_in_id)
    )
    return list((await session.scalars(statement)).all())


async def result_of(
    session: AsyncSession, visit_id: UUID
) -> tuple[VisitResult, Promise | None] | None:
    statement = (
        select(VisitResult, Promise)
        .outerjoin(Promise, Promise.result_id == VisitResult.result_id)
        .where(VisitResult.visit_id == visit_id)
    )
    row = (await session.execute(statement)).first()
    return None if row is None else (row[0], row[1])
