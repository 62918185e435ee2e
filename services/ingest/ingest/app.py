"""The ingest service: portfolios, accounts and campaigns."""

from fastapi import FastAPI

from ingest.accounts.router import router as accounts_router
from ingest.campaigns.router import router as campaigns_router
from ingest.mappings.router import router as mappings_router
from ingest.models import common
from ingest.settings import IngestSettings
from ingest.uploads.router import router as uploads_router
from shared.runtime import ServiceRuntime, create_service_app


def create_app(settings: IngestSettings | None = None) -> FastAPI:
    settings = settings or IngestSettings()
    return create_service_app(
        name="ingest",
        title="Campo ingest API",
        version="0.1.0",
        description=(
            "Upload portfolios of delinquent accounts, select accounts into "
            "campaigns with a visit brief, and launch them."
        ),
        settings=settings,
        tables=common,
        routers=[uploads_router, mappings_router, accounts_router, campaigns_router],
        consumers=_consumers,
    )


def _consumers(runtime: ServiceRuntime) -> list:  # type: ignore[type-arg]
    # Ingest owns tenants and publishes them; it consumes nothing yet.
    return []
