"""The reporting service: campaign figures, the live stream and webhooks."""

from fastapi import FastAPI

from reporting import export_router, router
from reporting.consumers import build_consumers
from reporting.delivery import deliver_webhooks
from reporting.models import common
from reporting.settings import ReportingSettings
from shared.runtime import create_service_app


def create_app(settings: ReportingSettings | None = None) -> FastAPI:
    settings = settings or ReportingSettings()
    return create_service_app(
        name="reporting",
        title="Campo reporting API",
        version="0.1.0",
        description=(
            "Per-campaign figures, a live Server-Sent Events stream of visits "
            "and promises, and signed webhooks (Standard Webhooks)."
        ),
        settings=settings,
        tables=common,
        routers=[router.router, export_router.router],
        consumers=build_consumers,
        background=[deliver_webhooks],
    )
