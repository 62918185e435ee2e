"""Results of visits: completion once per submission, promises and events."""

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID, uuid4

import structlog
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from shared.errors import ConflictError, InvalidStateError
from shared.events import Payload
from shared.events.payloads import (
    ContactDataUpdated,
    ContactUpdate,
    Money,
    PaymentPromise,
    PromiseMade,
    VisitCompleted,
)
from shared.runtime import ServiceRuntime
from visits import (
    codes,
    door_location,
    promises,
    proof,
    repository,
    result_rules,
    rules,
)
from visits.result_codes import ResultCode
from visits.schemas import PromiseOut, ResultRequest, ResultResponse
from visits.service import (
    device_time_errors,
    raise_if_released,
    visit_not_found,
    visits_settings,
)
from visits.settings import VisitsSettings
from visits.signals import Assessment
from visits.states import VisitState

log = structlog.get_logger(__name__)

CENTS = Decimal("0.01")


async def submit_result(
    session: AsyncSession,
    runtime: ServiceRuntime,
    *,
    agent_id: UUID,
    visit_id: UUID,
    request: ResultRequest,
) -> tuple[int, dict[str, Any]]:
    """Complete a checked-in visit once per submission; return (status, body).

    A resubmission of the same submission_id returns the stored first body
    with status 200. Two concurrent submissions are serialised by the
    conditional UPDATE on the visit row, and the unique constraints on the
    result decide any case that slips past it.
    """
    try:
        async with session.begin():
            return await _submit_once(
                session, runtime, agent_id=agent_id, visit_id=visit_id, request=request
            )
    except IntegrityError:
        log.info(
            "visits.result_conflict",
            visit_id=str(visit_id),
            agent_id=str(agent_id),
        )
    async with session.begin():
        stored = await _stored_response(session, agent_id, visit_id, request)
    if stored is None:
        raise ConflictError(
            f"a concurrent result for visit {visit_id} was stored first; "
            "fetch the visit to see its state"
        )
    return 200, stored


async def _submit_once(
    session: AsyncSession,
    runtime: ServiceRuntime,
    *,
    agent_id: UUID,
    visit_id: UUID,
    request: ResultRequest,
) -> tuple[int, dict[str, Any]]:
    """Read, check and store a result in the caller's transaction.

    One transaction from the first read to the last write. The answers'
    check against the form runs inside it, holding a pooled connection for
    at most `answers_timeout_seconds`.
    """
    # The visit and a stored result are read in one statement, so from one
    # snapshot: a completed state below never hides a replay.
    visit = await repository.agent_visit_and_submission(
        session, agent_id, visit_id, request.submission_id
    )
    if visit is None:
        await raise_if_released(session, visit_id, agent_id)
        raise visit_not_found(visit_id)
    stored = _replay(visit.stored_visit_id, visit.stored_response, visit_id, request)
    if stored is not None:
        return 200, stored
    code = await codes.find_code(session, visit.tenant_id, request.result_code)
    if visit.state != VisitState.CHECKED_IN:
        raise _result_state_error(visit_id, visit.state)
    now = datetime.now(UTC)
    await _validate_result(request, visit, now, visits_settings(runtime), code)
    return await _store_result(session, runtime, visit, agent_id, request, now)


async def _stored_response(
    session: AsyncSession, agent_id: UUID, visit_id: UUID, request: ResultRequest
) -> dict[str, Any] | None:
    stored = await repository.stored_submission(
        session, agent_id, request.submission_id
    )
    if stored is None:
        return None
    return _replay(stored.visit_id, stored.response, visit_id, request)


def _replay(
    stored_visit_id: UUID | None,
    stored_response: dict[str, Any] | None,
    visit_id: UUID,
    request: ResultRequest,
) -> dict[str, Any] | None:
    """Return the first response to this submission; None when there was none."""
    if stored_visit_id is None or stored_response is None:
        return None
    if stored_visit_id != visit_id:
        raise ConflictError(
            f"submission_id {request.submission_id!r} was already used for visit "
            f"{stored_visit_id}; send a new submission_id for each visit"
        )
    # JSONB reorders keys; the model restores the order of the first response.
    return ResultResponse.model_validate(stored_response).model_dump(mode="json")


def _result_state_error(visit_id: UUID, state: str) -> InvalidStateError:
    if state == VisitState.COMPLETED:
        requirement = (
            "its result was sent with another submission_id, so it cannot change"
        )
    else:
        requirement = "check in at the address before sending the result"
    return InvalidStateError(
        f"visit {visit_id} is {state}; {requirement}", current_state=state
    )


async def _validate_result(
    request: ResultRequest,
    visit: Any,
    now: datetime,
    settings: VisitsSettings,
    code: ResultCode | None,
) -> None:
    time_errors = device_time_errors(request.device_time, now, settings)
    errors = time_errors + _code_and_disclosure_errors(request, visit, code)
    # The due date is judged by the device's date, so only when that is sound.
    if (
        request.promise is not None
        and request.person_met.is_contact
        and not time_errors
    ):
        balance = None
        if visit.balance_amount is not None and visit.balance_currency is not None:
            balance = Money(
                amount=visit.balance_amount, currency=visit.balance_currency
            )
        errors += rules.check_promise(
            amount=request.promise.amount,
            currency=request.promise.currency,
            due_date=request.promise.due_date,
            person_met=request.person_met,
            balance=balance,
            device_time=request.device_time,
            visit_currency=visit.fee_currency,
            max_due_days=settings.max_promise_days,
        )
    errors += rules.check_new_phone(request.new_phone)
    value_errors = rules.check_answer_values(request.answers)
    if value_errors:
        # Values that PostgreSQL cannot store are not validated against the form.
        errors += value_errors
    else:
        errors += await rules.check_answers_in_time(
            request.answers,
            visit.questions,
            timeout_seconds=settings.answers_timeout_seconds,
        )
    rules.raise_if_any(errors)


def _code_and_disclosure_errors(
    request: ResultRequest, visit: Any, code: ResultCode | None
) -> list[rules.FieldError]:
    """Check the code against the result, and who may hear about the debt."""
    errors = result_rules.check_disclosure(
        request.person_met,
        has_promise=request.promise is not None,
        answers=request.answers,
        questions=visit.questions,
    )
    errors += result_rules.check_code_fits(
        code,
        code_id=request.result_code,
        person_met=request.person_met,
        # Without contact the disclosure rule already refused the promise.
        has_promise=request.promise is not None and request.person_met.is_contact,
        debtor_lives_there=request.debtor_lives_there,
    )
    if request.contact_update is not None:
        errors += result_rules.check_contact_update(
            request.contact_update.payload(), request.person_met
        )
    return errors


async def _store_result(
    session: AsyncSession,
    runtime: ServiceRuntime,
    visit: Any,
    agent_id: UUID,
    request: ResultRequest,
    now: datetime,
) -> tuple[int, dict[str, Any]]:
    promise = _new_promise(request)
    completed = await repository.mark_completed(
        session,
        visit.visit_id,
        agent_id=agent_id,
        now=now,
        lock_payments=promise is not None,
    )
    if not completed:
        stored = await _stored_response(session, agent_id, visit.visit_id, request)
        if stored is not None:
            return 200, stored
        state = await repository.visit_state(session, visit.visit_id)
        raise _result_state_error(visit.visit_id, state or "unknown")
    response = ResultResponse(
        result_id=uuid4(),
        visit_id=visit.visit_id,
        state=VisitState.COMPLETED,
        submission_id=request.submission_id,
        server_time=now,
        contact=request.person_met.is_contact,
        promise=promise,
        result_code=request.result_code,
    )
    body = response.model_dump(mode="json")
    # Assessed before the insert, so the result row is written once, score
    # included; the photos are linked to the result id it is about to take.
    assessment = await proof.file_proof(
        session,
        visits_settings(runtime),
        visit_id=visit.visit_id,
        agent_id=agent_id,
        result_id=response.result_id,
        photo_ids=request.photo_ids,
        device_time=request.device_time,
        server_time=now,
        address_radius_m=door_location.geocode_radius_meters(visit),
    )
    claim = None
    if promise is not None:
        claim = promises.earlier_payments_claim(
            visit, promise_id=promise.promise_id, currency=promise.currency, now=now
        )
    claimed = await repository.insert_result(
        session,
        promise=None if promise is None else _promise_row(promise, visit, response),
        claim=claim,
        events=runtime.outbox_rows(
            _result_events(visit, agent_id, request, response, assessment)
        ),
        result_id=response.result_id,
        visit_id=visit.visit_id,
        tenant_id=visit.tenant_id,
        agent_id=agent_id,
        submission_id=request.submission_id,
        person_met=request.person_met.value,
        result_code=request.result_code,
        contact=response.contact,
        contact_update=_contact_update_json(request),
        debtor_lives_there=request.debtor_lives_there,
        new_phone=request.new_phone,
        notes=request.notes,
        answers=request.answers,
        device_time=request.device_time,
        server_time=now,
        response=body,
        fraud_score=assessment.score,
        flagged=assessment.flagged,
        signals=[signal.as_dict() for signal in assessment.signals],
    )
    if promise is not None:
        # The account's payments lock, taken with the state change, keeps a
        # payment from slipping between the claim and the commit.
        await promises.apply_claimed_payments(
            session,
            emit=runtime.emit,
            promise_id=promise.promise_id,
            payments=claimed,
            now=now,
        )
    log.info(
        "visits.result_stored",
        visit_id=str(visit.visit_id),
        agent_id=str(agent_id),
        result_id=str(response.result_id),
        contact=response.contact,
        promise=promise is not None,
    )
    return 201, body


def _contact_update(request: ResultRequest) -> ContactUpdate | None:
    """Return the result's contact data, or None when it brought none."""
    if request.contact_update is None:
        return None
    update = request.contact_update.payload()
    return None if update.is_empty else update


def _contact_update_json(request: ResultRequest) -> dict[str, Any] | None:
    update = _contact_update(request)
    return None if update is None else update.model_dump(mode="json")


def _new_promise(request: ResultRequest) -> PromiseOut | None:
    if request.promise is None:
        return None
    return PromiseOut(
        promise_id=uuid4(),
        amount=request.promise.amount.quantize(CENTS),
        currency=request.promise.currency,
        due_date=request.promise.due_date,
    )


def _promise_row(
    promise: PromiseOut, visit: Any, response: ResultResponse
) -> dict[str, Any]:
    return {
        "promise_id": promise.promise_id,
        "result_id": response.result_id,
        "visit_id": visit.visit_id,
        "tenant_id": visit.tenant_id,
        "amount": promise.amount,
        "currency": promise.currency,
        "due_date": promise.due_date,
    }


def _result_events(
    visit: Any,
    agent_id: UUID,
    request: ResultRequest,
    response: ResultResponse,
    assessment: Assessment,
) -> list[Payload]:
    """Return the result's events in the order they are published."""
    promise = response.promise
    payment = None
    if promise is not None:
        payment = PaymentPromise(
            amount=Money(amount=promise.amount, currency=promise.currency),
            due_date=promise.due_date,
        )
    events: list[Payload] = [
        VisitCompleted(
            tenant_id=visit.tenant_id,
            visit_id=visit.visit_id,
            campaign_id=visit.campaign_id,
            account_id=visit.account_id,
            account_key=visit.account_key,
            agent_id=agent_id,
            submission_id=request.submission_id,
            completed_at=response.server_time,
            device_time=request.device_time,
            person_met=request.person_met,
            contact=response.contact,
            debtor_lives_there=request.debtor_lives_there,
            promise=payment,
            new_phone=request.new_phone,
            notes=request.notes,
            result_code=request.result_code,
            fraud_score=assessment.score,
            flagged=assessment.flagged,
            photo_ids=request.photo_ids,
        )
    ]
    update = _contact_update(request)
    if update is not None:
        events.append(
            ContactDataUpdated(
                tenant_id=visit.tenant_id,
                visit_id=visit.visit_id,
                campaign_id=visit.campaign_id,
                account_id=visit.account_id,
                account_key=visit.account_key,
                agent_id=agent_id,
                result_id=response.result_id,
                result_code=request.result_code,
                reported_at=response.server_time,
                update=update,
            )
        )
    if promise is not None and payment is not None:
        events.append(
            PromiseMade(
                tenant_id=visit.tenant_id,
                promise_id=promise.promise_id,
                visit_id=visit.visit_id,
                campaign_id=visit.campaign_id,
                account_id=visit.account_id,
                amount=payment.amount,
                due_date=payment.due_date,
            )
        )
    return events
