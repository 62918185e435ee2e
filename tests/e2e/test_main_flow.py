"""The main job through HTTP and Kafka, with the four services as processes."""

import asyncio
import random
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from matching.agents import AgentSpec, register_agent
from matching.settings import MatchingSettings
from ops.demo_agents import offset_point, result_body
from ops.processes import ServiceProcess, free_port, start_services, stop_services
from ops.webhook_receiver import WebhookReceiver
from shared.db import create_engine, create_sessionmaker
from tests.conftest import IsolatedEnvironment
from tests.fixtures.apps import eventually
from tests.fixtures.portfolios import account_row, xlsx_bytes
from tests.fixtures.tenants import make_tenant

pytestmark = pytest.mark.e2e

CDMX_POINTS = [
    (19.4326, -99.1332),
    (19.4270, -99.1677),
    (19.4010, -99.1550),
    (19.4500, -99.1400),
    (19.3900, -99.1700),
    (19.4200, -99.1200),
]
FAR_AWAY = (16.7569, -93.1292)  # Tuxtla Gutiérrez, Chiapas: no agent near.
QUESTIONS = {
    "type": "object",
    "properties": {"employment": {"type": "string", "title": "¿Trabaja?"}},
}


@pytest.fixture(scope="module")
async def services(
    service_env: IsolatedEnvironment, tmp_path_factory
) -> AsyncIterator[dict[str, ServiceProcess]]:
    env = {
        **service_env.as_env(),
        "REPORTING_WEBHOOK_ALLOW_LOOPBACK": "true",
        "REPORTING_WEBHOOK_RETRY_SCHEDULE_SECONDS": "1,1,2,2,5",
    }
    ports = {
        name: free_port() for name in ("ingest", "matching", "visits", "reporting")
    }
    log_dir = Path(tmp_path_factory.mktemp("service-logs"))
    running = await asyncio.to_thread(start_services, log_dir, env, ports)
    yield running
    await asyncio.to_thread(stop_services, running)


async def register_agents(count: int) -> list[str]:
    settings = MatchingSettings()
    engine = create_engine(settings.database_url, pool_size=1)
    tokens = []
    try:
        async with create_sessionmaker(engine)() as session, session.begin():
            for index in range(count):
                lat, lon = CDMX_POINTS[index % len(CDMX_POINTS)]
                spec = AgentSpec(
                    name=f"Agente {index}",
                    phone=f"+52551000{index:04d}",
                    lat=lat,
                    lon=lon,
                    coverage_radius_m=10_000,
                    daily_capacity=10,
                )
                tokens.append(
                    (await register_agent(session, spec, settings=settings)).token
                )
    finally:
        await engine.dispose()
    return tokens


async def all_visits(
    http: httpx.AsyncClient, url: str, key: str, campaign_id: str
) -> list[dict]:
    response = await http.get(
        f"{url}/visits",
        headers={"X-API-Key": key},
        params={"campaign_id": campaign_id, "limit": 500},
    )
    assert response.status_code == 200, response.text
    return response.json()["items"]


async def file_results(
    http: httpx.AsyncClient,
    url: str,
    token: str,
    rng: random.Random,
    *,
    limit: int | None = None,
) -> list[tuple[dict, dict]]:
    """Check in and file results for up to `limit` of the agent's open visits."""
    headers = {"Authorization": f"Bearer {token}"}
    listing = await http.get(f"{url}/agent/visits", headers=headers)
    assert listing.status_code == 200, listing.text
    filed = []
    for visit in listing.json()["items"][:limit]:
        base = f"{url}/agent/visits/{visit['visit_id']}"
        lat, lon = offset_point(
            visit["location"]["lat"], visit["location"]["lon"], 20, 90
        )
        check_in = await http.post(
            f"{base}/check-in",
            headers=headers,
            json={
                "lat": lat,
                "lon": lon,
                "accuracy_m": 10,
                "device_time": datetime.now(UTC).isoformat(),
            },
        )
        assert check_in.status_code == 201, check_in.text
        assert check_in.json()["verified"] is True
        body = result_body(
            visit, rng.choice(["debtor_promise", "other_person", "nobody"]), rng
        )
        body["answers"] = {"employment": "empleado"}
        response = await http.post(f"{base}/result", headers=headers, json=body)
        assert response.status_code == 201, response.text
        filed.append((body, response.json()))
    return filed


class TestMainFlow:
    async def test_upload_to_verified_webhooks(
        self, services: dict[str, ServiceProcess]
    ):
        urls = {name: s.url for name, s in services.items()}
        tenant = await make_tenant()
        key = tenant.api_key.key
        headers = {"X-API-Key": key}
        tokens = await register_agents(3)
        receiver = WebhookReceiver()
        await receiver.start()
        rng = random.Random(7)
        async with httpx.AsyncClient(timeout=30) as http:

            async def key_accepted() -> bool:
                response = await http.get(
                    f"{urls['reporting']}/webhooks", headers=headers
                )
                return response.status_code == 200

            await eventually(key_accepted, message="API key reached reporting")
            subscribed = await http.post(
                f"{urls['reporting']}/webhooks",
                headers=headers,
                json={
                    "url": receiver.url,
                    "event_types": ["visit.completed", "promise.made"],
                },
            )
            assert subscribed.status_code == 201, subscribed.text
            receiver.secret = subscribed.json()["secret"]

            rows = [
                account_row(f"E-{i}", lat=lat, lon=lon)
                for i, (lat, lon) in enumerate(CDMX_POINTS * 2)
            ]
            rows.append(
                account_row(
                    "E-far",
                    lat=FAR_AWAY[0],
                    lon=FAR_AWAY[1],
                    postal_code=29000,
                    colonia="Centro",
                    municipality="Tuxtla Gutiérrez",
                    state="Chiapas",
                )
            )
            rows.append(account_row("E-bad", days="muchos"))
            uploaded = await http.post(
                f"{urls['ingest']}/uploads",
                headers=headers,
                files={"file": ("cartera.xlsx", xlsx_bytes(rows))},
            )
            assert uploaded.status_code == 201, uploaded.text
            assert uploaded.json()["rows_valid"] == 13
            assert [e["row"] for e in uploaded.json()["errors"]] == [15]

            campaign = await http.post(
                f"{urls['ingest']}/campaigns",
                headers=headers,
                json={
                    "name": "E2E",
                    "objective": "Contactar al titular",
                    "questions": QUESTIONS,
                    "max_discount_pct": "10",
                    "fee_amount": "150",
                    "deadline": (datetime.now(UTC) + timedelta(days=2)).isoformat(),
                    "selection": {"all_accounts": True},
                    "dispatch": {"mode": "assign"},
                },
            )
            assert campaign.status_code == 201, campaign.text
            campaign_id = campaign.json()["campaign_id"]
            launched = await http.post(
                f"{urls['ingest']}/campaigns/{campaign_id}/launch", headers=headers
            )
            assert launched.json()["visit_count"] == 13

            async def dispatched() -> list[dict] | None:
                visits = await all_visits(http, urls["visits"], key, campaign_id)
                done = len(visits) == 13 and all(
                    v["state"] != "requested" for v in visits
                )
                return visits if done else None

            visits = await eventually(
                dispatched, timeout_seconds=60, message="visits dispatched"
            )
            by_state = {v["state"] for v in visits}
            assert by_state == {"assigned", "out_of_coverage"}
            far = next(v for v in visits if v["account_key"] == "E-far")
            assert far["state"] == "out_of_coverage"
            assert far["nearest_agent_distance_m"] > 500_000

            # Half the results while reporting runs, the rest while it is stopped.
            filed = await file_results(http, urls["visits"], tokens[0], rng)
            services["reporting"].stop()
            for token in tokens[1:]:
                filed += await file_results(http, urls["visits"], token, rng)
            assert len(filed) == 12

            # An app resending a result it already sent gets the first one back;
            # filed[0] was filed by the first agent.
            body, first = filed[0]
            again = await http.post(
                f"{urls['visits']}/agent/visits/{first['visit_id']}/result",
                headers={"Authorization": f"Bearer {tokens[0]}"},
                json=body,
            )
            assert again.status_code == 200
            assert again.json()["result_id"] == first["result_id"]

            services["reporting"].start()
            services["reporting"].wait_healthy()

            visits = await eventually(
                lambda: _final(http, urls["visits"], key, campaign_id),
                message="visits final",
            )
            completed = [v for v in visits if v["state"] == "completed"]
            assert len(completed) == 12
            promises = sum(1 for body, _ in filed if body.get("promise"))

            async def summary_complete() -> dict | None:
                response = await http.get(
                    f"{urls['reporting']}/campaigns/{campaign_id}/summary",
                    headers=headers,
                )
                figures = response.json() if response.status_code == 200 else {}
                return figures if figures.get("visits_final") == 13 else None

            figures = await eventually(
                summary_complete, timeout_seconds=60, message="summary"
            )
            assert figures["visits_requested"] == 13
            assert figures["visits_completed"] == 12
            assert figures["visits_out_of_coverage"] == 1
            assert figures["promises"] == promises
            contacts = sum(
                1 for body, _ in filed if body["person_met"] in ("debtor", "guarantor")
            )
            assert figures["contact_rate"] == pytest.approx(contacts / 12)

            async def webhooks_in() -> bool:
                return len(receiver.verified_ids()) >= 12 + promises

            await eventually(
                webhooks_in, timeout_seconds=60, message="webhooks delivered"
            )
        await receiver.stop()
        assert receiver.failures() == []
        types = [d.event_type for d in receiver.deliveries]
        assert types.count("visit.completed") >= 12
        assert len(receiver.verified_ids()) == 12 + promises


async def _final(
    http: httpx.AsyncClient, url: str, key: str, campaign_id: str
) -> list[dict] | None:
    visits = await all_visits(http, url, key, campaign_id)
    return visits if all(v["final"] for v in visits) else None
