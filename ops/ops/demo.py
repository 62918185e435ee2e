"""`make demo`: the main job end to end, on the real servers, through the public APIs.

The demo starts the four services as processes, creates a tenant and
registers the agents in examples/agents.json. It subscribes a local webhook
receiver that verifies every signature, uploads examples/portfolio.xlsx and
launches a campaign over every account in offer mode. The agents poll their
offers in matching and answer them: most accept, about one in ten declines
with a reason, and a few never answer, so their offers expire and pass on.
Then it plays each agent through the visits API (check in near the address,
upload a photo, submit a result). Two agents fake their last visit, which
the fraud signals must flag. It prints the campaign summary with the offer
figures, the flagged visits, the top agents and the top municipalities. It
exits 0 only when every visit reached a final state and every expected
webhook arrived with a valid signature.
"""

import asyncio
import json
import os
import random
import sys
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeVar

import httpx

from ingest.settings import IngestSettings
from ingest.tenants import create_tenant
from matching import repository as matching_repository
from matching.agents import AgentSpec, register_agent
from matching.settings import MatchingSettings
from ops.demo_agents import FAKING_AGENTS, play_agent
from ops.demo_database import DemoDatabaseError, recreate_demo_database
from ops.demo_figures import leaderboard_lines, read_breakdowns, zone_lines
from ops.demo_offers import OfferTally, answer_offers
from ops.processes import DEFAULT_PORTS, start_services, stop_services
from ops.webhook_receiver import WebhookReceiver
from shared.db import create_engine, create_sessionmaker
from shared.logging import configure_logging
from shared.migrations import upgrade

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
WAIT_SECONDS = 300.0
WEBHOOK_TYPES = ["visit.completed", "visit.out_of_coverage", "promise.made"]
# Short timings, so that a silent agent's offers pass on within seconds. A
# visit whose covering agents all declined, stayed silent or are full waits
# the shortest wait a campaign may set, then ends out_of_coverage.
DISPATCH = {"mode": "offer", "offer_timeout_seconds": 10, "max_wait_seconds": 30}
# One agent in twenty never answers an offer.
SILENT_EVERY = 20
QUESTIONS = {
    "type": "object",
    "properties": {
        "employment": {
            "type": "string",
            "title": "¿El titular trabaja actualmente?",
            "enum": ["empleado", "independiente", "desempleado", "no_sabe"],
        },
        "reason_for_arrears": {
            "type": "string",
            "title": "Motivo del atraso",
            "maxLength": 500,
        },
    },
    "required": ["employment"],
    "x-order": ["employment", "reason_for_arrears"],
}

T = TypeVar("T")


class DemoFailure(Exception):
    pass


def say(message: str) -> None:
    print(message, flush=True)


class Steps:
    """Times each step and prints it as it runs."""

    def __init__(self) -> None:
        self.timings: list[tuple[str, float]] = []

    async def run(self, name: str, work: Callable[[], Awaitable[T]]) -> T:
        say(f"==> {name}")
        started = time.perf_counter()
        result = await work()
        self.timings.append((name, time.perf_counter() - started))
        return result


async def wait_for(
    probe: Callable[[], Awaitable[T | None]],
    *,
    what: str,
    timeout_seconds: float = WAIT_SECONDS,
    interval_seconds: float = 0.5,
) -> T:
    deadline = time.monotonic() + timeout_seconds
    while time.monotonic() < deadline:
        result = await probe()
        if result is not None:
            return result
        await asyncio.sleep(interval_seconds)
    raise DemoFailure(f"timed out after {timeout_seconds:.0f} s waiting for {what}")


async def create_demo_tenant() -> tuple[str, str]:
    settings = IngestSettings()
    engine = create_engine(settings.database_url, pool_size=1)
    try:
        async with create_sessionmaker(engine)() as session, session.begin():
            tenant = await create_tenant(
                session,
                name=f"Financiera Demo {datetime.now(UTC):%Y-%m-%d %H:%M}",
                country="MX",
                currency="MXN",
                settings=settings,
            )
    finally:
        await engine.dispose()
    return str(tenant.tenant_id), tenant.api_key.key


async def offer_counts(tenant_id: str) -> dict[str, int]:
    """Count the tenant's offers by state, read from matching's tables."""
    settings = MatchingSettings()
    engine = create_engine(settings.database_url, pool_size=1)
    try:
        async with create_sessionmaker(engine)() as session, session.begin():
            return await matching_repository.offer_counts(session, uuid.UUID(tenant_id))
    finally:
        await engine.dispose()


async def register_demo_agents() -> list[str]:
    specs = [
        AgentSpec.model_validate(item)
        for item in json.loads((EXAMPLES / "agents.json").read_text(encoding="utf-8"))
    ]
    settings = MatchingSettings()
    engine = create_engine(settings.database_url, pool_size=1)
    try:
        async with create_sessionmaker(engine)() as session, session.begin():
            return [
                (await register_agent(session, spec, settings=settings)).token
                for spec in specs
            ]
    finally:
        await engine.dispose()


class Demo:
    def __init__(self, urls: dict[str, str], api_key: str) -> None:
        self.urls = urls
        self.headers = {"X-API-Key": api_key}
        self.http = httpx.AsyncClient(timeout=30.0)
        self.receiver = WebhookReceiver()
        self.rng = random.Random(20261204)
        self.tally = OfferTally()
        self.faked: list[str] = []

    async def wait_for_key(self) -> None:
        """Wait until visits and reporting accept the key, which travels by Kafka."""
        for service, path in (("visits", "/visits"), ("reporting", "/webhooks")):

            async def accepted(url: str = self.urls[service] + path) -> bool | None:
                response = await self.http.get(url, headers=self.headers)
                return True if response.status_code == 200 else None

            await wait_for(accepted, what=f"the API key to reach {service}")

    async def subscribe(self) -> None:
        await self.receiver.start()
        response = await self.http.post(
            self.urls["reporting"] + "/webhooks",
            headers=self.headers,
            json={"url": self.receiver.url, "event_types": WEBHOOK_TYPES},
        )
        _expect(response, 201, "subscribing the webhook receiver")
        self.receiver.secret = response.json()["secret"]
        say(f"    receiver on {self.receiver.url}, types {', '.join(WEBHOOK_TYPES)}")

    async def upload(self) -> dict[str, Any]:
        content = (EXAMPLES / "portfolio.xlsx").read_bytes()
        response = await self.http.post(
            self.urls["ingest"] + "/uploads",
            headers=self.headers,
            files={"file": ("portfolio.xlsx", content)},
            timeout=120.0,
        )
        _expect(response, 201, "uploading examples/portfolio.xlsx")
        report = response.json()
        say(
            f"    {report['rows_total']} rows: {report['rows_valid']} valid, "
            f"{report['rows_invalid']} invalid; header on row {report['header_row']}"
        )
        return report

    async def launch(self) -> tuple[str, int]:
        body = {
            "name": "Visita domiciliaria, cartera vencida",
            "objective": (
                "Confirmar domicilio, contactar al titular y negociar una promesa"
            ),
            "questions": QUESTIONS,
            "max_discount_pct": "25",
            "fee_amount": "180.00",
            "deadline": (datetime.now(UTC) + timedelta(days=3)).isoformat(),
            "selection": {"all_accounts": True},
            "dispatch": DISPATCH,
        }
        created = await self.http.post(
            self.urls["ingest"] + "/campaigns",
            headers={**self.headers, "Idempotency-Key": str(uuid.uuid4())},
            json=body,
        )
        _expect(created, 201, "creating the campaign")
        campaign_id = created.json()["campaign_id"]
        launched = await self.http.post(
            self.urls["ingest"] + f"/campaigns/{campaign_id}/launch",
            headers=self.headers,
        )
        _expect(launched, 200, "launching the campaign")
        visit_count = launched.json()["visit_count"]
        say(f"    campaign {campaign_id}: {visit_count} visits requested")
        return campaign_id, visit_count

    async def visits(self, campaign_id: str) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        while True:
            response = await self.http.get(
                self.urls["visits"] + "/visits",
                headers=self.headers,
                params={"campaign_id": campaign_id, "limit": 500, "offset": len(items)},
            )
            _expect(response, 200, "listing visits")
            page = response.json()
            items.extend(page["items"])
            if len(items) >= page["total"] or not page["items"]:
                return items

    async def wait_dispatched(self, campaign_id: str, visit_count: int) -> None:
        async def dispatched() -> bool | None:
            visits = await self.visits(campaign_id)
            waiting = sum(1 for v in visits if v["state"] == "requested")
            say(
                f"    {len(visits)}/{visit_count} visits known, "
                f"{waiting} waiting for an agent"
            )
            return True if len(visits) == visit_count and waiting == 0 else None

        # Every two seconds: each look lists all the visits, and the agents
        # polling their offers need the machine too.
        await wait_for(
            dispatched,
            what="every visit to be assigned or out of coverage",
            interval_seconds=2.0,
        )

    async def answer_offers(
        self, tokens: list[str], campaign_id: str, visit_count: int
    ) -> None:
        """Let every agent answer its offers until no visit waits for an agent."""
        stop = asyncio.Event()
        agents = [
            answer_offers(
                self.http,
                self.urls["matching"],
                token,
                random.Random(seed),
                self.tally,
                stop,
                silent=seed % SILENT_EVERY == SILENT_EVERY - 1,
            )
            for seed, token in enumerate(tokens)
        ]
        answering = asyncio.gather(*agents)
        try:
            await self.wait_dispatched(campaign_id, visit_count)
        finally:
            stop.set()
            await answering
        tally = self.tally
        say(
            f"    offers seen {tally.seen}, accepted {tally.accepted}, "
            f"declined {sum(tally.declined.values())}, "
            f"refused {sum(tally.refused.values())}"
        )

    async def play(self, tokens: list[str]) -> dict[str, int]:
        outcomes: dict[str, int] = {}
        # Eight agents at a time: enough to exercise concurrency on two cores.
        limit = asyncio.Semaphore(8)

        async def one(token: str, seed: int) -> None:
            async with limit:
                day = await play_agent(
                    self.http,
                    self.urls["visits"],
                    token,
                    random.Random(seed),
                    fakes_last_visit=seed in FAKING_AGENTS,
                )
                for outcome in day.outcomes:
                    outcomes[outcome] = outcomes.get(outcome, 0) + 1
                self.faked.extend(day.faked)

        await asyncio.gather(*(one(t, i) for i, t in enumerate(tokens)))
        say(
            "    results filed: "
            + ", ".join(f"{k} {v}" for k, v in sorted(outcomes.items()))
        )
        say(f"    faked visits filed: {len(self.faked)}")
        return outcomes

    async def flagged(self, campaign_id: str) -> list[dict[str, Any]]:
        """Return the flagged visits with their signals, or fail on a missed fake."""
        response = await self.http.get(
            self.urls["visits"] + "/visits",
            headers=self.headers,
            params={"campaign_id": campaign_id, "flagged": "true", "limit": 500},
        )
        _expect(response, 200, "listing the flagged visits")
        flagged = []
        for item in response.json()["items"]:
            detail = await self.http.get(
                self.urls["visits"] + f"/visits/{item['visit_id']}",
                headers=self.headers,
            )
            _expect(detail, 200, f"reading flagged visit {item['visit_id']}")
            flagged.append(detail.json())
        missed = set(self.faked) - {visit["visit_id"] for visit in flagged}
        if missed:
            raise DemoFailure(
                f"{len(missed)} faked visits were not flagged, e.g. {sorted(missed)[0]}"
            )
        return flagged

    async def wait_final(self, campaign_id: str) -> list[dict[str, Any]]:
        async def final() -> list[dict[str, Any]] | None:
            visits = await self.visits(campaign_id)
            return visits if all(v["final"] for v in visits) else None

        return await wait_for(final, what="every visit to reach a final state")

    async def wait_webhooks(self, expected: int) -> None:
        async def arrived() -> bool | None:
            got = len(self.receiver.verified_ids())
            say(f"    webhooks verified: {got}/{expected}")
            return True if got >= expected else None

        await wait_for(arrived, what=f"{expected} verified webhooks")

    async def summary(
        self, campaign_id: str, visits: list[dict[str, Any]]
    ) -> dict[str, Any]:
        async def complete() -> dict[str, Any] | None:
            response = await self.http.get(
                self.urls["reporting"] + f"/campaigns/{campaign_id}/summary",
                headers=self.headers,
            )
            if response.status_code != 200:
                return None
            figures = response.json()
            return figures if figures.get("visits_final") == len(visits) else None

        return await wait_for(complete, what="reporting to count every final visit")


async def _breakdowns(
    demo: Demo, reporting_url: str, campaign_id: str
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    try:
        return await read_breakdowns(
            demo.http, reporting_url, demo.headers, campaign_id
        )
    except httpx.HTTPStatusError as error:
        raise DemoFailure(
            f"reading the leaderboard and zones failed: HTTP "
            f"{error.response.status_code} {error.response.text[:500]}"
        ) from error


def _expect(response: httpx.Response, status: int, doing: str) -> None:
    if response.status_code != status:
        raise DemoFailure(
            f"{doing} failed: HTTP {response.status_code} {response.text[:500]}"
        )


def _rate(value: float | None) -> str:
    return "n/a" if value is None else f"{value * 100:.1f} %"


def _seconds(value: dict[str, float | None] | None) -> str:
    if not value or value.get("p50") is None:
        return "n/a"
    return f"p50 {value['p50']:.1f} s, p90 {value['p90']:.1f} s"


def print_summary(
    figures: dict[str, Any],
    visits: list[dict[str, Any]],
    offers: dict[str, int],
    tally: OfferTally,
    flagged: list[dict[str, Any]],
    faked: list[str],
    *,
    leaders: list[dict[str, Any]] | None = None,
    zones: list[dict[str, Any]] | None = None,
) -> None:
    states: dict[str, int] = {}
    for visit in visits:
        states[visit["state"]] = states.get(visit["state"], 0) + 1
    amount = Decimal(figures.get("promised_amount") or 0)
    lines = [
        f"Campaign summary: {figures.get('name')} ({figures.get('campaign_id')})",
        f"  accounts selected        {figures.get('accounts')}"
        f" ({figures.get('accounts_excluded', 0)} without coordinates)",
        "  visits by final state    "
        + ", ".join(f"{k} {v}" for k, v in sorted(states.items())),
        f"  visits requested         {figures.get('visits_requested')}, "
        f"assigned {figures.get('visits_assigned')}, "
        f"checked in {figures.get('visits_checked_in')}, "
        f"completed {figures.get('visits_completed')}",
        f"  contact rate             {_rate(figures.get('contact_rate'))}",
        f"  located rate             {_rate(figures.get('located_rate'))}",
        f"  promise rate             {_rate(figures.get('promise_rate'))}",
        f"  promises                 {figures.get('promises')} for "
        f"{amount:,.2f} {figures.get('currency')}",
        "  time to assignment       "
        + _seconds(figures.get("time_to_assignment_seconds")),
        "  time to first visit      "
        + _seconds(figures.get("time_to_first_visit_seconds")),
        "  time to result           " + _seconds(figures.get("time_to_result_seconds")),
        f"  visited within 72 hours  {_rate(figures.get('visited_within_72h_rate'))}",
        f"  offers sent              {sum(offers.values())}: "
        + ", ".join(f"{state} {n}" for state, n in sorted(offers.items())),
        "  declined by reason       "
        + (", ".join(f"{k} {v}" for k, v in sorted(tally.declined.items())) or "none"),
        "  accepts refused          "
        + (", ".join(f"{k} {v}" for k, v in sorted(tally.refused.items())) or "none"),
        f"  flagged visits           {len(flagged)} ({len(faked)} faked, all flagged)",
        *[_flag_line(visit, faked) for visit in flagged],
        *leaderboard_lines(leaders or [], figures.get("currency") or ""),
        *zone_lines(zones or []),
    ]
    say("\n" + "\n".join(lines))


def _flag_line(visit: dict[str, Any], faked: list[str]) -> str:
    fraud = visit.get("fraud") or {}
    fired = [s["name"] for s in fraud.get("signals", []) if s["fired"]]
    mark = "faked" if visit["visit_id"] in faked else "honest"
    return f"    {visit['visit_id']} ({mark}) score {fraud.get('score')}: " + ", ".join(
        fired
    )


def demo_ports() -> dict[str, int]:
    """Ports 8001 to 8004 unless CAMPO_DEMO_BASE_PORT moves the four together."""
    base = int(os.environ.get("CAMPO_DEMO_BASE_PORT", "8001"))
    return {name: base + offset for offset, name in enumerate(DEFAULT_PORTS)}


async def run() -> int:
    # Service code called in-process logs at INFO; the demo shows only its
    # own progress, and the services' logs go to their files.
    configure_logging(service="demo", level="WARNING")
    steps = Steps()
    log_dir = Path(os.environ.get("CAMPO_STATE_DIR", ROOT / ".local")) / "logs"
    try:
        database_url, topic_prefix = await steps.run(
            "recreate the demo database", recreate_demo_database
        )
    except DemoDatabaseError as failure:
        say(f"\nDEMO FAILED: {failure}")
        return 1
    say(f"    {database_url.rpartition('@')[2]}, topics {topic_prefix}*")
    env = {
        "DATABASE_URL": database_url,
        "KAFKA_TOPIC_PREFIX": topic_prefix,
        "REPORTING_WEBHOOK_ALLOW_LOOPBACK": "true",
        "CAMPO_ENVIRONMENT": "development",
        # Expire offers and retry waiting visits often, for a demo of a minute.
        "MATCHING_OFFER_EXPIRY_INTERVAL_SECONDS": "1",
        "MATCHING_PENDING_RETRY_SECONDS": "2",
        # Dispatch each visit on arrival. The campaign's wait is 30 s, and a
        # batch pass over hundreds of visits that arrive at once can take
        # that long on a small machine, so batched visits would end
        # out_of_coverage before their turn.
        "MATCHING_BATCH_INTERVAL_SECONDS": "0",
        # The demo must show offers at whatever hour it runs, and its addresses
        # are in Mexico City, where visits are legal only from 07:00 to 22:00.
        "MATCHING_VISITING_HOURS": "false",
        "VISITS_VISITING_HOURS": "false",
        # Each agent's day runs on a simulated clock that ends now, so device
        # times trail the server's by hours. Here that gap is no fraud signal.
        "VISITS_SIGNAL_MAX_CLOCK_GAP_SECONDS": str(24 * 3600),
        "VISITS_PHOTO_DIR": str(log_dir.parent / "demo-photos"),
    }
    # The tenant and the agents are created in-process, so the settings
    # built here must see the demo database too.
    os.environ.update(env)

    async def migrate() -> None:
        database_url = IngestSettings().database_url
        for package in ("ingest", "matching", "visits", "reporting"):
            await asyncio.to_thread(upgrade, database_url, package)

    await steps.run("migrate the four schemas", migrate)
    services = await steps.run(
        f"start the four services (logs in {log_dir})",
        lambda: asyncio.to_thread(start_services, log_dir, env, demo_ports()),
    )
    urls = {name: service.url for name, service in services.items()}
    demo: Demo | None = None
    try:
        tenant_id, api_key = await steps.run(
            "create a tenant and its API key", create_demo_tenant
        )
        tokens = await steps.run(
            "register the agents in examples/agents.json", register_demo_agents
        )
        say(f"    {len(tokens)} agents")
        demo = Demo(urls, api_key)
        await steps.run(
            "wait for the API key to reach every service", demo.wait_for_key
        )
        await steps.run("subscribe a local webhook receiver", demo.subscribe)
        await steps.run("upload examples/portfolio.xlsx", demo.upload)
        campaign_id, visit_count = await steps.run(
            "create and launch the campaign", demo.launch
        )
        await steps.run(
            "agents answer offers until every visit is taken or out of coverage",
            lambda: demo.answer_offers(tokens, campaign_id, visit_count),
        )
        outcomes = await steps.run(
            "play the agents: check in, submit results", lambda: demo.play(tokens)
        )
        visits = await steps.run(
            "wait for every visit to be final", lambda: demo.wait_final(campaign_id)
        )
        expected = _expected_webhooks(visits, outcomes)
        await steps.run("wait for the webhooks", lambda: demo.wait_webhooks(expected))
        figures = await steps.run(
            "read the summary from reporting", lambda: demo.summary(campaign_id, visits)
        )
        flagged = await steps.run(
            "read the flagged visits", lambda: demo.flagged(campaign_id)
        )
        leaders, zones = await steps.run(
            "read the leaderboard and the zones from reporting",
            lambda: _breakdowns(demo, urls["reporting"], campaign_id),
        )
        offers = await offer_counts(tenant_id)
    except DemoFailure as failure:
        say(f"\nDEMO FAILED: {failure}")
        return 1
    finally:
        if demo is not None:
            await demo.receiver.stop()
            await demo.http.aclose()
        stop_services(services)

    print_summary(
        figures,
        visits,
        offers,
        demo.tally,
        flagged,
        demo.faked,
        leaders=leaders,
        zones=zones,
    )
    bad = demo.receiver.failures()
    say(
        f"\nWebhooks: {len(demo.receiver.verified_ids())} verified, {len(bad)} rejected"
    )
    say("Step timings:")
    for name, seconds in steps.timings:
        say(f"  {seconds:7.1f} s  {name}")
    if bad:
        say(
            f"DEMO FAILED: {len(bad)} webhook deliveries did not verify: {bad[0].error}"
        )
        return 1
    say("DEMO OK: every visit is final and every webhook signature verified")
    return 0


def _expected_webhooks(visits: list[dict[str, Any]], outcomes: dict[str, int]) -> int:
    """Count the webhooks due: one per closed visit and one per promise."""
    closing = sum(1 for v in visits if v["state"] in ("completed", "out_of_coverage"))
    promises = sum(n for name, n in outcomes.items() if name.endswith("_promise"))
    promises -= sum(n for name, n in outcomes.items() if name.endswith("_no_promise"))
    return closing + promises


def main() -> None:
    sys.exit(asyncio.run(run()))


if __name__ == "__main__":
    main()
