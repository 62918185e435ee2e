"""Security headers and CORS on the services' real apps, without their lifespan.

`/health`, the OpenAPI document, the docs page, an unknown path and a CORS
preflight need no database or broker, so the apps answer them unstarted.
"""

from collections.abc import Callable

import httpx
import pytest
from fastapi import FastAPI
from pydantic import ValidationError

import ingest.app
import matching.app
import reporting.app
import visits.app
from ingest.settings import IngestSettings
from matching.settings import MatchingSettings
from reporting.settings import ReportingSettings
from shared.edges import parse_cors_origins
from shared.runtime import docs_pages
from visits.settings import VisitsSettings

PORTAL = "https://portal.example.mx"

APPS: dict[str, Callable[[], FastAPI]] = {
    "ingest": lambda: ingest.app.create_app(IngestSettings()),
    "matching": lambda: matching.app.create_app(
        MatchingSettings(batch_interval_seconds=0)
    ),
    "visits": lambda: visits.app.create_app(VisitsSettings()),
    "reporting": lambda: reporting.app.create_app(ReportingSettings()),
}


def client_for(app: FastAPI) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://testserver"
    )


@pytest.fixture
def portal_origin(monkeypatch) -> None:
    monkeypatch.setenv("CAMPO_CORS_ORIGINS", f"{PORTAL}, http://localhost:5173")


class TestParseCorsOrigins:
    def test_empty_means_no_cors(self) -> None:
        assert parse_cors_origins(" , ", allow_http=False) == ()

    def test_trailing_slash_and_case_normalised(self) -> None:
        origins = parse_cors_origins("HTTPS://Portal.Example.MX/", allow_http=False)

        assert origins == ("https://portal.example.mx",)

    @pytest.mark.parametrize(
        ("origin", "names"),
        [
            ("*", "wildcard"),
            ("https://*.example.mx", "wildcard"),
            ("https://portal.example.mx/app", "path"),
            ("https://portal.example.mx?x=1", "query"),
            ("portal.example.mx", "host"),
            ("ftp://portal.example.mx", "host"),
        ],
    )
    def test_not_an_origin_refused(self, origin: str, names: str) -> None:
        with pytest.raises(ValueError, match=names) as raised:
            parse_cors_origins(origin, allow_http=True)

        assert repr(origin) in str(raised.value)

    def test_plain_http_only_outside_production(self) -> None:
        assert parse_cors_origins("http://localhost:5173", allow_http=True)
        with pytest.raises(ValueError, match="https"):
            parse_cors_origins("http://localhost:5173", allow_http=False)


def test_production_refuses_http_portal(monkeypatch) -> None:
    monkeypatch.setenv("CAMPO_ENVIRONMENT", "production")
    monkeypatch.setenv("AGENT_TOKEN_SECRET", "x" * 40)
    monkeypatch.setenv("DATABASE_URL", "postgresql+asyncpg://campo:Xy7@db:5432/campo")
    monkeypatch.setenv("CAMPO_CORS_ORIGINS", "http://portal.example.mx")

    with pytest.raises(ValidationError, match=r"http://portal\.example\.mx"):
        VisitsSettings()


@pytest.mark.parametrize("service", sorted(APPS))
@pytest.mark.parametrize("path", ["/health", "/openapi.json", "/no-such-path"])
async def test_every_response_carries_headers(service: str, path: str) -> None:
    async with client_for(APPS[service]()) as client:
        response = await client.get(path)

    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["referrer-policy"] == "no-referrer"
    assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
    assert "strict-transport-security" not in response.headers


async def test_unknown_path_still_a_problem() -> None:
    async with client_for(APPS["visits"]()) as client:
        response = await client.get("/no-such-path")

    assert response.status_code == 404
    assert response.headers["content-type"].startswith("application/problem+json")


async def test_api_policy_forbids_scripts() -> None:
    async with client_for(APPS["ingest"]()) as client:
        response = await client.get("/openapi.json")

    assert response.headers["content-security-policy"].startswith("default-src 'none'")
    assert "script-src" not in response.headers["content-security-policy"]


async def test_docs_page_may_load_its_scripts() -> None:
    async with client_for(APPS["ingest"]()) as client:
        response = await client.get("/docs")

    assert response.status_code == 200
    assert "https://cdn.jsdelivr.net" in response.headers["content-security-policy"]


async def test_production_sends_hsts(monkeypatch) -> None:
    monkeypatch.setenv("CAMPO_ENVIRONMENT", "production")
    monkeypatch.setenv("AGENT_TOKEN_SECRET", "x" * 40)
    monkeypatch.setenv("DATABASE_URL", "postgresql+asyncpg://campo:Xy7@db:5432/campo")
    async with client_for(APPS["reporting"]()) as client:
        response = await client.get("/health")

    assert response.headers["strict-transport-security"].startswith("max-age=")


@pytest.mark.usefixtures("portal_origin")
async def test_portal_preflight_allowed() -> None:
    async with client_for(APPS["visits"]()) as client:
        response = await client.options(
            "/visits",
            headers={
                "Origin": PORTAL,
                "Access-Control-Request-Method": "GET",
                "Access-Control-Request-Headers": "authorization",
            },
        )

    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == PORTAL
    assert "access-control-allow-credentials" not in response.headers
    assert response.headers["x-content-type-options"] == "nosniff"


@pytest.mark.usefixtures("portal_origin")
async def test_other_origin_preflight_refused() -> None:
    async with client_for(APPS["visits"]()) as client:
        response = await client.options(
            "/visits",
            headers={
                "Origin": "https://evil.example.com",
                "Access-Control-Request-Method": "GET",
            },
        )

    assert response.status_code == 400
    assert "access-control-allow-origin" not in response.headers


@pytest.mark.usefixtures("portal_origin")
async def test_simple_request_names_only_portal() -> None:
    async with client_for(APPS["matching"]()) as client:
        allowed = await client.get("/health", headers={"Origin": PORTAL})
        other = await client.get("/health", headers={"Origin": "https://evil.example"})

    assert allowed.headers["access-control-allow-origin"] == PORTAL
    assert "access-control-allow-origin" not in other.headers


async def test_no_origins_no_cors(monkeypatch) -> None:
    monkeypatch.delenv("CAMPO_CORS_ORIGINS", raising=False)
    async with client_for(APPS["ingest"]()) as client:
        response = await client.get("/health", headers={"Origin": PORTAL})

    assert "access-control-allow-origin" not in response.headers


@pytest.mark.parametrize(
    ("sent", "kept"),
    [("abc-123.x", True), ("a" * 129, False), ("bad id;<x>", False), ("", False)],
)
async def test_request_id_echoed_only_when_plain(sent: str, kept: bool) -> None:
    async with client_for(APPS["reporting"]()) as client:
        response = await client.get("/health", headers={"X-Request-ID": sent})

    assert (response.headers["x-request-id"] == sent) is kept
    assert len(response.headers["x-request-id"]) <= 128


def test_docs_pages_left_out_in_production() -> None:
    assert docs_pages("production") == {"docs_url": None, "redoc_url": None}
    assert docs_pages("development") == {"docs_url": "/docs", "redoc_url": "/redoc"}
