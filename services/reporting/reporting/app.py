"""The reporting service: campaign figures, the live stream and webhooks."""

from fastapi import FastAPI

from reporting import audit, export_router, figures_router, router
from reporting.consumers import build_consumers
from reporting.delivery import deliver_webhooks, use_resolver
from reporting.models import common
from reporting.settings import ReportingSettings
from reporting.wake import listen_for_rows
from reporting.webhook_urls import Resolver, resolve_host
from shared.consumer import EventConsumer
from shared.runtime import BackgroundTask, ServiceRuntime, create_service_app


def create_app(
    settings: ReportingSettings | None = None, *, resolve: Resolver = resolve_host
) -> FastAPI:
    """Build the app; `resolve` replaces DNS in webhook URL checks, for tests."""
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
        routers=[
            router.router,
            figures_router.router,
            export_router.router,
            audit.router,
        ],
        consumers=build_consumers,
        background=background_tasks(settings),
        resources=[use_resolver(resolve)],
    )


def background_tasks(settings: ReportingSettings) -> list[BackgroundTask]:
    """Return the LISTEN connection, and the delivery worker unless it runs apart."""
    if settings.delivery_in_process:
        return [deliver_webhooks, listen_for_rows]
    return [listen_for_rows]


def create_delivery_app(
    settings: ReportingSettings | None = None, *, resolve: Resolver = resolve_host
) -> FastAPI:
    """Build the app whose lifespan `campo-reporting deliver` runs.

    Only its lifespan runs: the delivery worker and the LISTEN connection
    that wakes it, with no consumer and no HTTP server. The API process
    keeps consuming events and serving the stream.
    """
    settings = settings or ReportingSettings()
    return create_service_app(
        name="reporting",
        title="Campo reporting webhook delivery",
        version="0.1.0",
        settings=settings,
        tables=common,
        routers=[],
        consumers=no_consumers,
        background=[deliver_webhooks, listen_for_rows],
        resources=[use_resolver(resolve)],
    )


def no_consumers(_runtime: ServiceRuntime) -> list[EventConsumer]:
    return []
