"""Time the candidate search with thousands of scheduled agents around one address.

    uv run python -m bench.candidates [--agents 5000] [--runs 20]

Creates a database of its own with matching's schema, places the agents
within 10 km of one visit, each with a time zone and a working window on
every day but Sunday, and times `find_candidates` before and after ANALYZE. Auto
vacuum is off on the seeded tables, so the first timings really run without
statistics. It also counts the agents in range who work before the deadline
under each form of the working-hours rule. These are the SQL function of
revision 0004, which joins a ten-day series, the function of revision 0006,
which checks two weekly occurrences per window, and the EXISTS that
`find_candidates` runs. The database is dropped at the end.
"""

import argparse
import asyncio
import importlib
import os
import statistics
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
from sqlalchemy import DateTime, func, literal, select, text, true
from sqlalchemy.ext.asyncio import AsyncSession

from matching import repository
from matching.candidates import CandidateRules, reach_m
from matching.models import MAX_COVERAGE_RADIUS_M, Agent, VisitRequest
from matching.repository.agents import works_between
from matching.settings import MatchingSettings
from shared.db import create_engine, create_sessionmaker
from shared.migrations import upgrade

CENTER_LAT, CENTER_LON = 19.4326, -99.1332
SEEDED_TABLES = ("agents", "agent_working_hours", "agent_daily_load", "offers")


def _plain_dsn(url: str) -> str:
    return url.replace("postgresql+asyncpg://", "postgresql://")


def _with_database(url: str, name: str) -> str:
    return url.rsplit("/", 1)[0] + "/" + name


async def _admin(url: str, statement: str) -> None:
    connection = await asyncpg.connect(_plain_dsn(url))
    try:
        await connection.execute(statement)
    finally:
        await connection.close()


async def _seed(session: AsyncSession, agents: int) -> uuid.UUID:
    for table in SEEDED_TABLES:
        await session.execute(
            text(f"ALTER TABLE matching.{table} SET (autovacuum_enabled = false)")
        )
    # Bases lie on a spiral within about 10 km of the center. Every agent
    # works 09:00 to 17:00 on weekdays and 10:00 to 14:00 on Saturday.
    await session.execute(
        text(
            """
            INSERT INTO matching.agents (agent_id, name, phone, base_location,
                coverage_radius_m, daily_capacity, travel_mode, status, verified,
                time_zone)
            SELECT gen_random_uuid(), 'Agent ' || i, '+525512345678',
                ST_SetSRID(ST_MakePoint(
                    :lon + 0.09 * sqrt(i::float / :n) * cos(i),
                    :lat + 0.09 * sqrt(i::float / :n) * sin(i)), 4326)::geography,
                15000, 8, 'motorcycle', 'online', true, 'America/Mexico_City'
            FROM generate_series(1, :n) AS i
            """
        ),
        {"lat": CENTER_LAT, "lon": CENTER_LON, "n": agents},
    )
    await session.execute(
        text(
            """
            INSERT INTO matching.agent_working_hours
            SELECT a.agent_id, d, time '09:00', time '17:00'
            FROM matching.agents a, generate_series(1, 5) AS d
            UNION ALL
            SELECT a.agent_id, 6, time '10:00', time '14:00' FROM matching.agents a
            """
        )
    )
    visit_id = uuid.uuid4()
    await repository.insert_visit_request(
        session,
        lat=CENTER_LAT,
        lon=CENTER_LON,
        visit_id=visit_id,
        tenant_id=uuid.uuid4(),
        campaign_id=uuid.uuid4(),
        fee_amount=85,
        fee_currency="MXN",
        deadline=datetime.now(UTC) + timedelta(days=3),
        requested_at=datetime.now(UTC),
        dispatch_mode="offer",
    )
    return visit_id


async def _time_search(
    sessionmaker, visit_id: uuid.UUID, runs: int
) -> tuple[float, int]:
    timings = []
    found = 0
    for _ in range(runs):
        async with sessionmaker() as session, session.begin():
            now = datetime.now(UTC)
            started = time.perf_counter()
            rules = CandidateRules(
                now=now,
                fallback_zone="UTC",
                staff_only=False,
                offline_if_scheduled=False,
                reach_m=reach_m(MatchingSettings()),
                location_fresh_since=now - timedelta(minutes=30),
                location_max_accuracy_m=500.0,
            )
            rows = await repository.find_candidates(
                session, visit_id, rules=rules, limit=20
            )
            timings.append(time.perf_counter() - started)
            found = len(rows)
    return statistics.median(timings) * 1000, found


def _function_of_revision_0004() -> str:
    """Return the 0004 function's SQL, created as `matching.works_between_0004`."""
    module = importlib.import_module(
        "matching.migrations.versions.0006_add_candidate_rules"
    )
    return str(module.WORKS_BETWEEN_0004).replace(
        "matching.agent_works_between(", "matching.works_between_0004("
    )


def _count_working(rule: Any) -> Any:
    """Return a query counting the agents within 200 km who work under `rule`."""
    return (
        select(func.count())
        .select_from(Agent)
        .join(VisitRequest, true())
        .where(
            func.ST_DWithin(
                Agent.base_location, VisitRequest.location, MAX_COVERAGE_RADIUS_M
            ),
            rule,
        )
    )


def _rules(now: datetime) -> dict[str, Any]:
    at = literal(now, DateTime(timezone=True))
    args = (Agent.agent_id, Agent.time_zone, at, VisitRequest.deadline)
    return {
        "function 0004": func.matching.works_between_0004(*args),
        "function 0006": func.matching.agent_works_between(*args),
        "inline EXISTS": works_between(at, until=VisitRequest.deadline),
    }


async def _time_rules(sessionmaker: Any, runs: int) -> None:
    for name, rule in _rules(datetime.now(UTC)).items():
        timings = []
        for _ in range(runs):
            async with sessionmaker() as session, session.begin():
                started = time.perf_counter()
                count = await session.scalar(_count_working(rule))
                timings.append(time.perf_counter() - started)
        median = statistics.median(timings) * 1000
        print(f"  working hours, {name}: median {median:.1f} ms, {count} agents")


async def _run(admin_url: str, agents: int, runs: int) -> None:
    name = f"campo_bench_candidates_{uuid.uuid4().hex[:8]}"
    await _admin(admin_url, f'CREATE DATABASE "{name}"')
    url = _with_database(admin_url, name)
    await _admin(url, "CREATE EXTENSION IF NOT EXISTS postgis")
    engine = create_engine(url)
    try:
        await asyncio.to_thread(upgrade, url, "matching")
        sessionmaker = create_sessionmaker(engine)
        async with sessionmaker() as session, session.begin():
            visit_id = await _seed(session, agents)
            await session.execute(text(_function_of_revision_0004()))
        cold, found = await _time_search(sessionmaker, visit_id, runs)
        print(f"without ANALYZE: median {cold:.1f} ms over {runs} runs, {found} found")
        await _time_rules(sessionmaker, runs)
        async with sessionmaker() as session, session.begin():
            for table in SEEDED_TABLES:
                await session.execute(text(f"ANALYZE matching.{table}"))
        warm, found = await _time_search(sessionmaker, visit_id, runs)
        print(f"with ANALYZE:    median {warm:.1f} ms over {runs} runs, {found} found")
        await _time_rules(sessionmaker, runs)
    finally:
        await engine.dispose()
        await _admin(admin_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--agents", type=int, default=5000)
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()
    admin_url = os.environ["DATABASE_URL"]
    print(f"{args.agents} scheduled agents within 10 km of one visit")
    asyncio.run(_run(admin_url, args.agents, args.runs))


if __name__ == "__main__":
    main()
