from typing import Annotated

from fastapi import APIRouter, File, Request, UploadFile, status
from fastapi.responses import JSONResponse

from ingest.dependencies import SettingsDep
from ingest.models import common
from ingest.payments import file, service
from ingest.payments.schemas import PaymentFileReport, PaymentIn, PaymentOut
from shared.api import (
    IdempotencyKey,
    PaymentsWriter,
    RuntimeDep,
    SessionDep,
)
from shared.errors import PayloadTooLargeError, UnauthorizedError, problem_responses
from shared.idempotency import IdempotencyKeyReusedError, fingerprint, run_idempotent

router = APIRouter(prefix="/payments", tags=["payments"])


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    summary="Report a payment; a reference already reported returns that payment",
    responses={
        200: {
            "model": PaymentOut,
            "description": (
                "The reference was already reported for this account; the body "
                "is the payment stored the first time."
            ),
        },
        **problem_responses(
            UnauthorizedError,
            service.UnknownAccountError,
            service.PaymentCurrencyError,
            service.PaymentReferenceReusedError,
            IdempotencyKeyReusedError,
        ),
    },
)
async def report_payment(
    body: PaymentIn,
    request: Request,
    tenant: PaymentsWriter,
    runtime: RuntimeDep,
    session: SessionDep,
    idempotency_key: IdempotencyKey = None,
) -> PaymentOut:
    async def report() -> tuple[int, object]:
        reported = await service.report_payment(
            runtime, session, tenant_id=tenant.tenant_id, request=body
        )
        code = status.HTTP_201_CREATED if reported.created else status.HTTP_200_OK
        return code, reported.payment.model_dump(mode="json")

    code, payload = await run_idempotent(
        session,
        common,
        tenant_id=tenant.tenant_id,
        key=idempotency_key,
        request_fingerprint=fingerprint(
            "POST", request.url.path, body.model_dump_json()
        ),
        action=report,
    )
    runtime.relay.notify()
    return JSONResponse(payload, status_code=code)  # type: ignore[return-value]


@router.post(
    "/file",
    summary="Report payments from a CSV file",
    description=(
        "A UTF-8 CSV with the columns account_key (or account_id), amount, "
        "currency (optional), paid_on (YYYY-MM-DD or DD/MM/YYYY) and reference; "
        "amounts may be written 1234.56, 1,234.56 or 1.234,56. Valid rows "
        "are stored even when other rows fail; the report lists each failure "
        "with its line number."
    ),
    responses=problem_responses(
        UnauthorizedError, PayloadTooLargeError, file.UnreadablePaymentFileError
    ),
)
async def report_payment_file(
    tenant: PaymentsWriter,
    runtime: RuntimeDep,
    settings: SettingsDep,
    session: SessionDep,
    upload: Annotated[UploadFile, File(alias="file", description="The CSV file.")],
) -> PaymentFileReport:
    limit = settings.max_upload_bytes
    content = await upload.read(limit + 1)
    if len(content) > limit:
        raise PayloadTooLargeError(
            f"{upload.filename} is larger than {limit} bytes; split the file"
        )
    rows = file.parse_rows(content, max_rows=settings.max_upload_rows)
    return await file.report_file(
        runtime, session, tenant_id=tenant.tenant_id, rows=rows
    )
