"""Read side: visits listed for their agent and for their tenant."""

from typing import Any
from uuid import UUID

from sqlalchemy import Row, select
from sqlalchemy.ext.asyncio import AsyncSession

from shared.errors import NotFoundError
from shared.events.payloads import Address, Brief, GeoPoint, Money
from visits import proof_repository, repository
from visits.models import Promise, Visit, VisitResult
from visits.schemas import (
    AgentVisit,
    AgentVisitList,
    CheckInOut,
    FraudAssessment,
    PhotoOut,
    PromiseOut,
    ResultOut,
    ReviewOut,
    SignalOut,
    VisitDetail,
    VisitPage,
    VisitSummary,
)
from visits.service import visit_not_found
from visits.states import VisitState


def _brief(visit: Visit) -> Brief:
    if visit.brief is not None:
        # The column keeps the discount at two decimals, as older visits show it.
        return Brief.model_validate(
            {**visit.brief, "max_discount_pct": visit.max_discount_pct}
        )
    return Brief(
        objective=visit.objective,
        questions=visit.questions,
        max_discount_pct=visit.max_discount_pct,
    )


def _agent_visit(row: Row[Any]) -> AgentVisit:
    visit: Visit = row.Visit
    state = VisitState(visit.state)
    fee = Money(amount=visit.fee_amount, currency=visit.fee_currency)
    if state.is_final:
        return _closed_agent_visit(visit, state, fee)
    balance = None
    if visit.balance_amount is not None and visit.balance_currency is not None:
        balance = Money(amount=visit.balance_amount, currency=visit.balance_currency)
    return AgentVisit(
        visit_id=visit.visit_id,
        campaign_id=visit.campaign_id,
        attempt=visit.attempt,
        state=state,
        brief=_brief(visit),
        debtor_name=visit.debtor_name,
        phone=visit.phone,
        address=Address(
            street=visit.street,
            exterior_number=visit.exterior_number,
            interior_number=visit.interior_number,
            colonia=visit.colonia,
            municipality=visit.municipality,
            state=visit.address_state,
            postal_code=visit.postal_code,
            cross_streets=visit.cross_streets,
            address_references=visit.address_references,
        ),
        location=GeoPoint(lat=row.lat, lon=row.lon),
        balance_overdue=balance,
        days_past_due=visit.days_past_due,
        deadline=visit.deadline,
        fee=fee,
        requested_at=visit.requested_at,
        assigned_at=visit.assigned_at,
        checked_in_at=visit.checked_in_at,
    )


def _closed_agent_visit(visit: Visit, state: VisitState, fee: Money) -> AgentVisit:
    """Return a closed visit without the debtor's data: only area, fee and times.

    The agent keeps what it needs to appeal a rejection (its own result is at
    the review endpoints), but the debtor's name, phone, address, position and
    debt are no business of a freelancer once the visit is over.
    """
    return AgentVisit(
        visit_id=visit.visit_id,
        campaign_id=visit.campaign_id,
        attempt=visit.attempt,
        state=state,
        brief=None,
        debtor_name=None,
        phone=None,
        address=Address(municipality=visit.municipality, state=visit.address_state),
        location=None,
        balance_overdue=None,
        days_past_due=None,
        deadline=visit.deadline,
        fee=fee,
        requested_at=visit.requested_at,
        assigned_at=visit.assigned_at,
        checked_in_at=visit.checked_in_at,
        debtor_data_withheld=True,
    )


async def list_agent_visits(
    session: AsyncSession,
    agent_id: UUID,
    *,
    states: list[VisitState],
    limit: int,
    offset: int,
) -> AgentVisitList:
    async with session.begin():
        rows = await repository.agent_visits(
            session,
            agent_id,
            states=[state.value for state in states],
            limit=limit,
            offset=offset,
        )
    return AgentVisitList(
        items=[_agent_visit(row) for row in rows], limit=limit, offset=offset
    )


async def get_agent_visit(
    session: AsyncSession, agent_id: UUID, visit_id: UUID
) -> AgentVisit:
    async with session.begin():
        row = await repository.agent_visit(session, agent_id, visit_id)
    if row is None:
        raise visit_not_found(visit_id)
    return _agent_visit(row)


def _summary_fields(row: Row[Any]) -> dict[str, Any]:
    visit: Visit = row.Visit
    state = VisitState(visit.state)
    return {
        "visit_id": visit.visit_id,
        "campaign_id": visit.campaign_id,
        "account_id": visit.account_id,
        "account_key": visit.account_key,
        "attempt": visit.attempt,
        "state": state,
        "state_reason": visit.state_reason,
        "final": state.is_final,
        "agent_id": visit.agent_id,
        "requested_at": visit.requested_at,
        "assigned_at": visit.assigned_at,
        "checked_in_at": visit.checked_in_at,
        "completed_at": visit.completed_at,
        "closed_at": visit.closed_at,
        "deadline": visit.deadline,
        "first_check_in_distance_m": row.first_check_in_distance_m,
        "nearest_agent_distance_m": visit.nearest_agent_distance_m,
        "flagged": getattr(row, "flagged", None),
    }


async def list_tenant_visits(
    session: AsyncSession,
    tenant_id: UUID,
    *,
    campaign_id: UUID | None,
    state: VisitState | None,
    limit: int,
    offset: int,
    flagged: bool | None = None,
) -> VisitPage:
    async with session.begin():
        rows, total = await repository.tenant_visits(
            session,
            tenant_id,
            campaign_id=campaign_id,
            state=state.value if state is not None else None,
            flagged=flagged,
            limit=limit,
            offset=offset,
        )
    return VisitPage(
        items=[VisitSummary(**_summary_fields(row)) for row in rows],
        total=total,
        limit=limit,
        offset=offset,
    )


async def get_tenant_visit(
    session: AsyncSession, tenant_id: UUID, visit_id: UUID
) -> VisitDetail:
    async with session.begin():
        row = await repository.tenant_visit(session, tenant_id, visit_id)
        if row is None:
            raise NotFoundError(f"visit {visit_id} not found for this tenant")
        check_ins = await repository.check_ins_of(session, visit_id)
        result = await repository.result_of(session, visit_id)
        photos = await proof_repository.photos_of(session, visit_id)
        review = await proof_repository.review_of(session, visit_id)
    return VisitDetail(
        **_summary_fields(row),
        check_ins=[
            CheckInOut.model_validate(check_in, from_attributes=True)
            for check_in in check_ins
        ],
        result=_result_out(*result) if result is not None else None,
        photos=[
            PhotoOut.model_validate(photo, from_attributes=True) for photo in photos
        ],
        fraud=_fraud(result[0]) if result is not None else None,
        review=(
            ReviewOut.model_validate(review, from_attributes=True)
            if review is not None
            else None
        ),
    )


def _fraud(result: VisitResult) -> FraudAssessment | None:
    if result.fraud_score is None or result.signals is None:
        return None
    return FraudAssessment(
        score=result.fraud_score,
        flagged=bool(result.flagged),
        signals=[SignalOut.model_validate(signal) for signal in result.signals],
    )


def _result_out(result: VisitResult, promise: Promise | None) -> ResultOut:
    return ResultOut(
        result_id=result.result_id,
        submission_id=result.submission_id,
        agent_id=result.agent_id,
        person_met=result.person_met,
        result_code=result.result_code,
        contact=result.contact,
        debtor_lives_there=result.debtor_lives_there,
        contact_update=result.contact_update,
        new_phone=result.new_phone,
        notes=result.notes,
        answers=result.answers,
        device_time=result.device_time,
        server_time=result.server_time,
        promise=(
            PromiseOut.model_validate(promise, from_attributes=True)
            if promise is not None
            else None
        ),
    )


async def tenants_of(
    session: AsyncSession, visit_ids: list[UUID]
) -> dict[UUID, list[UUID]]:
    """Group visit ids by the tenant that owns each visit."""
    rows = await session.execute(
        select(Visit.tenant_id, Visit.visit_id).where(Visit.visit_id.in_(visit_ids))
    )
    grouped: dict[UUID, list[UUID]] = {}
    for tenant_id, visit_id in rows:
        grouped.setdefault(tenant_id, []).append(visit_id)
    return grouped
