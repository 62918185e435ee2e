"""HTTP routes of the tenant's result codes and visit rules."""

from fastapi import APIRouter, Request, status

from shared.api import SessionDep, SettingsReader, SettingsWriter
from shared.errors import (
    ConflictError,
    UnauthorizedError,
    UnprocessableError,
    problem_responses,
)
from shared.merge_patch import (
    MERGE_PATCH_CONTENT_TYPE,
    UnsupportedMediaTypeError,
    apply_merge_patch,
    read_merge_patch,
    validate_patched,
)
from visits import codes, rules_repository
from visits.result_codes import CATEGORY_LABELS, CATEGORY_PEOPLE, Category, ResultCode
from visits.rules_schemas import (
    CategoryOut,
    ResultCodeCatalogue,
    ResultCodeIn,
    ResultCodeOut,
    VisitRulesIn,
    VisitRulesOut,
    VisitRulesPatch,
)

rules_router = APIRouter(tags=["visit rules"])


def _code_out(code: ResultCode, *, standard: bool) -> ResultCodeOut:
    return ResultCodeOut(
        code=code.code,
        category=code.category,
        label_es=code.label_es,
        label_en=code.label_en,
        contact=code.contact,
        worked=code.worked,
        promise=code.promise,
        debtor_gone=code.debtor_gone,
        revisit=code.revisit,
        billable=code.billable,
        agent_paid=code.agent_paid,
        evidence=code.evidence,
        standard=standard,
    )


def _categories() -> list[CategoryOut]:
    return [
        CategoryOut(
            category=category,
            label_es=CATEGORY_LABELS[category][0],
            label_en=CATEGORY_LABELS[category][1],
            person_met=sorted(person.value for person in CATEGORY_PEOPLE[category]),
        )
        for category in Category
    ]


@rules_router.get(
    "/result-codes",
    summary="List the result codes: the standard catalogue and the tenant's own",
    response_model=ResultCodeCatalogue,
    responses=problem_responses(UnauthorizedError),
)
async def list_result_codes(
    tenant: SettingsReader, session: SessionDep
) -> ResultCodeCatalogue:
    standard, own = await codes.list_codes(session, tenant.tenant_id)
    return ResultCodeCatalogue(
        categories=_categories(),
        codes=[_code_out(code, standard=True) for code in standard]
        + [_code_out(code, standard=False) for code in own],
    )


@rules_router.post(
    "/result-codes",
    summary="Add a tenant result code under a standard category",
    status_code=status.HTTP_201_CREATED,
    response_model=ResultCodeOut,
    responses=problem_responses(UnauthorizedError, ConflictError, UnprocessableError),
)
async def add_result_code(
    body: ResultCodeIn, tenant: SettingsWriter, session: SessionDep
) -> ResultCodeOut:
    code = await codes.add_code(session, tenant.tenant_id, body)
    return _code_out(code, standard=False)


@rules_router.get(
    "/settings/visit-rules",
    summary="Get the tenant's visit rules",
    response_model=VisitRulesOut,
    responses=problem_responses(UnauthorizedError),
)
async def get_visit_rules(tenant: SettingsReader, session: SessionDep) -> VisitRulesOut:
    async with session.begin():
        rules = await rules_repository.visit_rules(session, tenant.tenant_id)
    if rules is None:
        return VisitRulesOut(max_visits_per_account_week=None)
    return VisitRulesOut(
        max_visits_per_account_week=rules.max_visits_per_account_week,
        promise_grace_days=rules.promise_grace_days,
    )


@rules_router.put(
    "/settings/visit-rules",
    summary="Set the tenant's visit rules",
    description=(
        "Replaces all the rules: a rule left out of the body takes its default "
        "(`promise_grace_days` 3), and `max_visits_per_account_week` must be "
        "sent, null for no limit. To change one rule and keep the others, use "
        "PATCH with a JSON Merge Patch."
    ),
    response_model=VisitRulesOut,
    responses=problem_responses(UnauthorizedError, UnprocessableError),
)
async def put_visit_rules(
    body: VisitRulesIn, tenant: SettingsWriter, session: SessionDep
) -> VisitRulesOut:
    async with session.begin():
        rules = await rules_repository.save_visit_rules(
            session,
            tenant.tenant_id,
            max_visits_per_account_week=body.max_visits_per_account_week,
            promise_grace_days=body.promise_grace_days,
        )
    return VisitRulesOut(
        max_visits_per_account_week=rules.max_visits_per_account_week,
        promise_grace_days=rules.promise_grace_days,
    )


@rules_router.patch(
    "/settings/visit-rules",
    summary="Change some of the tenant's visit rules",
    description=(
        "A JSON Merge Patch (RFC 7396), sent with Content-Type "
        f"`{MERGE_PATCH_CONTENT_TYPE}`: a rule left out keeps its value, and "
        "null restores its default (no weekly limit, 3 grace days). The "
        "patched rules are checked as a PUT body is, and a 422 names each "
        "invalid rule. Any other Content-Type is a 415."
    ),
    response_model=VisitRulesOut,
    responses=problem_responses(
        UnauthorizedError, UnprocessableError, UnsupportedMediaTypeError
    ),
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                MERGE_PATCH_CONTENT_TYPE: {
                    "schema": VisitRulesPatch.model_json_schema()
                }
            },
        }
    },
)
async def patch_visit_rules(
    request: Request, tenant: SettingsWriter, session: SessionDep
) -> VisitRulesOut:
    patch = await read_merge_patch(request)
    async with session.begin():
        stored = await rules_repository.lock_visit_rules(session, tenant.tenant_id)
        current = {
            "max_visits_per_account_week": stored.max_visits_per_account_week,
            "promise_grace_days": stored.promise_grace_days,
        }
        patched = apply_merge_patch(current, patch)
        if isinstance(patched, dict):
            # A removed limit is no limit, as null is in a PUT.
            patched = {"max_visits_per_account_week": None} | patched
        body = validate_patched(VisitRulesIn, patched)
        rules = await rules_repository.save_visit_rules(
            session,
            tenant.tenant_id,
            max_visits_per_account_week=body.max_visits_per_account_week,
            promise_grace_days=body.promise_grace_days,
        )
    return VisitRulesOut(
        max_visits_per_account_week=rules.max_visits_per_account_week,
        promise_grace_days=rules.promise_grace_days,
    )
