"""The ingest service: portfolios, accounts, campaigns, revisits and payments."""

from fastapi import FastAPI

from ingest.accounts.observed import on_location_observed
from ingest.accounts.router import router as accounts_router
from ingest.api_keys.router import router as api_keys_router
from ingest.attempts.consumers import (
    on_appeal_resolved,
    on_visit_completed,
    on_visit_rejected,
)
from ingest.attempts.scheduler import request_due_revisits
from ingest.campaigns.router import router as campaigns_router
from ingest.mappings.router import router as mappings_router
from ingest.models import common
from ingest.payments.router import router as payments_router
from ingest.policies.router import router as policy_router
from ingest.settings import IngestSettings
from ingest.uploads.jobs import keep_upload_jobs_alive, run_upload_jobs
from ingest.uploads.router import router as uploads_router
from ingest.uploads.settings_router import router as upload_settings_router
from ingest.users.router import auth_router, jwks_router, users_router
from shared.consumer import EventConsumer
from shared.events import topics
from shared.events.payloads import (
    AccountLocationObserved,
    VisitAppealResolved,
    VisitCompleted,
    VisitRejected,
)
from shared.runtime import ServiceRuntime, create_service_app

# Room for the multipart boundaries, part headers and the `mapping` form
# field around a file of INGEST_MAX_UPLOAD_BYTES. FastAPI parses a multipart
# body before it runs the dependency that checks the API key, so this cap,
# not the 401, bounds what an anonymous client can make the service spool.
MULTIPART_OVERHEAD_BYTES = 64 * 1024


def create_app(settings: IngestSettings | None = None) -> FastAPI:
    settings = settings or IngestSettings()
    file_limit = settings.max_upload_bytes + MULTIPART_OVERHEAD_BYTES
    return create_service_app(
        name="ingest",
        title="Campo ingest API",
        version="0.1.0",
        description=(
            "Upload portfolios of delinquent accounts, select accounts into "
            "campaigns with a visit brief, launch, pause or cancel them, and "
            "report payments."
        ),
        settings=settings,
        tables=common,
        routers=[
            uploads_router,
            upload_settings_router,
            mappings_router,
            accounts_router,
            campaigns_router,
            policy_router,
            payments_router,
            api_keys_router,
            auth_router,
            users_router,
            jwks_router,
        ],
        consumers=_consumers,
        background=[request_due_revisits, run_upload_jobs, keep_upload_jobs_alive],
        body_limits={
            ("POST", "/uploads"): file_limit,
            ("POST", "/payments/file"): file_limit,
            # Up to MAX_BULK_ACCOUNTS accounts: as many bytes as a portfolio.
            ("POST", "/accounts/bulk"): max(
                settings.max_upload_bytes, settings.max_request_bytes
            ),
        },
    )


def _consumers(runtime: ServiceRuntime) -> list[EventConsumer]:
    # Ingest owns tenants and publishes them; it consumes only visit outcomes.
    return [
        runtime.consumer(
            group="outcomes",
            streams=[topics.VISITS],
            handlers={
                VisitCompleted: on_visit_completed,
                VisitRejected: on_visit_rejected,
                VisitAppealResolved: on_appeal_resolved,
                AccountLocationObserved: on_location_observed,
            },
        )
    ]
