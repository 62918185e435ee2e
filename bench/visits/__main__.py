"""Drive agents' check-ins and results at rising rates, against a ceiling.

    uv run python -m bench.visits [--rates 100,250,500,750] [--duration 20]
        [--clients 2] [--uvicorn-workers 1]

Creates a database of its own with visits' schema and seeds it with
assigned and checked-in visits of many agents (see `bench.visits.seed`),
so neither ingest nor matching has to run. It starts two servers on
127.0.0.1. One is the visits service itself, on that database and the
real Kafka. The other is the ceiling (`bench.visits.ceiling`), which
validates the same bodies with the same pydantic models and does one
INSERT in a scratch schema of the same database.

At each rate R, R check-ins a second go to assigned visits and R results a
second to checked-in visits, for the given duration, first to the service
and then to the ceiling. The load is open-loop: requests leave on a fixed
schedule, split over client processes, and latency runs from the
scheduled time. Before the ceiling's turn the service's outbox relay must
have sent every event, so neither run pays for the other's work. The
database is dropped at the end.
"""

import argparse
import asyncio
import json
import os
import subprocess
import sys
import time
import uuid
from typing import Any

from bench.visits import report, seed, servers
from bench.visits.ceiling import CREATE_TABLE
from shared.auth import issue_agent_token
from shared.kafka import delete_topics
from shared.settings import ServiceSettings

WARMUP_RATE = 50
WARMUP_SECONDS = 5.0
SETTLE_SECONDS = 2.0
# The rows each server writes, and the service's unsent events: the bench
# waits until the count stays the same and nothing is unsent.
WRITTEN_ROWS = {
    "service": (
        "SELECT (SELECT count(*) FROM visits.check_ins)"
        " + (SELECT count(*) FROM visits.results),"
        " (SELECT count(*) FROM visits.outbox WHERE sent_at IS NULL)"
    ),
    "ceiling": "SELECT count(*), 0 FROM bench_ceiling.requests",
}


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rates", default="25,50,100,250,500,750")
    parser.add_argument("--duration", type=float, default=20.0)
    parser.add_argument("--clients", type=int, default=2)
    parser.add_argument("--agents", type=int, default=2000)
    parser.add_argument("--uvicorn-workers", type=int, default=1)
    parser.add_argument(
        "--targets", default="service,ceiling", help="which servers to measure"
    )
    parser.add_argument(
        "--every-rate",
        action="store_true",
        help="run every rate, also past the rate at which a server saturated",
    )
    parser.add_argument("--keep-database", action="store_true")
    return parser.parse_args()


def requests_for(
    visits: seed.Seeded, tokens: dict[str, str], start: int, count: int
) -> list[dict[str, Any]]:
    """Return `count` check-ins and `count` results, alternating."""
    items = []
    for index in range(start, start + count):
        check_in = visits.assigned[index]
        result = visits.checked_in[index]
        items.append(
            {
                "kind": "check_in",
                "visit_id": check_in.visit_id,
                "token": tokens[check_in.agent_id],
            }
        )
        items.append(
            {
                "kind": "result",
                "visit_id": result.visit_id,
                "token": tokens[result.agent_id],
                "photo_id": result.photo_id,
            }
        )
    return items


def drive(
    url: str, items: list[dict[str, Any]], rate: float, clients: int
) -> list[dict[str, Any]]:
    """Send `items` at `rate` requests a second over `clients` processes."""
    # Client processes start in about a second; three leave them time to load.
    start_at = time.time() + 3.0
    processes = []
    for client in range(clients):
        plan = {
            "url": url,
            "items": items[client::clients],
            "rate": rate / clients,
            "start_at": start_at,
            "phase": client / rate,
        }
        process = subprocess.Popen(
            [sys.executable, "-m", "bench.visits.load"],
            cwd=servers.ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert process.stdin is not None
        process.stdin.write(json.dumps(plan))
        process.stdin.close()
        processes.append(process)
    outcomes: list[dict[str, Any]] = []
    for process in processes:
        assert process.stdout is not None
        output = process.stdout.read()
        if process.wait() != 0:
            raise RuntimeError(f"a load client exited with {process.returncode}")
        outcomes += json.loads(output)["outcomes"]
    return outcomes


def measure(
    args: argparse.Namespace,
    targets: dict[str, servers.Server],
    visits: seed.Seeded,
    tokens: dict[str, str],
    database_url: str,
) -> list[report.Figures]:
    rates = [int(rate) for rate in args.rates.split(",")]
    runs: list[report.Figures] = []
    # Each run gets visits no earlier run touched; the ceiling keeps no
    # state, so it is sent the same requests as the service.
    warmup = int(WARMUP_RATE * WARMUP_SECONDS)
    for name, server in targets.items():
        drive(server.url, requests_for(visits, tokens, 0, warmup), 2 * WARMUP_RATE, 1)
        servers.wait_until_idle(database_url, WRITTEN_ROWS[name])
    used = warmup
    saturated: set[str] = set()
    for rate in rates:
        count = int(rate * args.duration)
        items = requests_for(visits, tokens, used, count)
        used += count
        for name, server in targets.items():
            if name in saturated:
                print(f"==> {name} skipped at {rate} results/s: saturated", flush=True)
                continue
            print(
                f"==> {name} at {rate} results/s for {args.duration:.0f} s", flush=True
            )
            cpu_before = server.cpu_seconds()
            outcomes = drive(server.url, items, 2 * rate, args.clients)
            # A server behind its load keeps working after the clients give
            # up; the next run starts only once it is done.
            idle = servers.wait_until_idle(database_url, WRITTEN_ROWS[name])
            cpu = server.cpu_seconds() - cpu_before
            figure = report.figures(name, rate, args.duration, outcomes, cpu=cpu)
            runs.append(figure)
            print(
                f"    {figure.results_per_s:.0f} results/s, "
                f"p99 {figure.p99_ms:.0f} ms; idle {idle:.1f} s after the run",
                flush=True,
            )
            if report.is_saturated(figure) and not args.every_rate:
                saturated.add(name)
            time.sleep(SETTLE_SECONDS)
    return runs


def visits_needed(args: argparse.Namespace) -> int:
    rates = [int(rate) for rate in args.rates.split(",")]
    return int(WARMUP_RATE * WARMUP_SECONDS + sum(rates) * args.duration) + 10


def server_env(database_url: str, kafka: str, topic_prefix: str) -> dict[str, str]:
    return {
        "DATABASE_URL": database_url,
        "KAFKA_BOOTSTRAP_SERVERS": kafka,
        "KAFKA_TOPIC_PREFIX": topic_prefix,
        # The visiting-hours rule is a pure function of the clock; off, the
        # bench runs at any hour of the day.
        "VISITS_VISITING_HOURS": "false",
    }


def main() -> None:
    args = parse_args()
    admin_url, kafka = servers.server_urls()
    run_id = uuid.uuid4().hex[:8]
    database = f"campo_bench_visits_{run_id}"
    topic_prefix = f"bench-visits-{run_id}."
    database_url = servers.create_database(admin_url, database)
    asyncio.run(
        servers.admin(database_url, CREATE_TABLE.format(schema="bench_ceiling"))
    )
    targets = {
        name: servers.Server(name, factory, workers=args.uvicorn_workers)
        for name, factory in (
            ("service", "visits.app:create_app"),
            ("ceiling", "bench.visits.ceiling:create_app"),
        )
        if name in args.targets.split(",")
    }

    try:
        visits, tokens = seed_visits(args, database_url)
        env = server_env(database_url, kafka, topic_prefix)
        for server in targets.values():
            server.start(env)
        runs = measure(args, targets, visits, tokens, database_url)
    finally:
        for server in targets.values():
            server.stop()
        if args.keep_database:
            print(f"==> kept database {database}")
        else:
            asyncio.run(
                servers.admin(
                    database_url, "DROP SCHEMA IF EXISTS bench_ceiling CASCADE"
                )
            )
            servers.drop_database(admin_url, database)
        asyncio.run(delete_topics(kafka, topic_prefix))
    print_summary(args, runs)


def seed_visits(
    args: argparse.Namespace, database_url: str
) -> tuple[seed.Seeded, dict[str, str]]:
    """Seed the visits and return them with a token for each agent."""
    started = time.perf_counter()
    visits = asyncio.run(
        seed.seed(
            servers.plain_dsn(database_url),
            visits=visits_needed(args),
            agents=args.agents,
        )
    )
    secret = ServiceSettings().agent_token_secret.get_secret_value()
    agents = {visit.agent_id for visit in visits.assigned + visits.checked_in}
    tokens = {
        agent: issue_agent_token(uuid.UUID(agent), secret=secret) for agent in agents
    }
    print(
        f"==> seeded {len(visits.assigned)} assigned and "
        f"{len(visits.checked_in)} checked-in visits in "
        f"{time.perf_counter() - started:.0f} s",
        flush=True,
    )
    return visits, tokens


def print_summary(args: argparse.Namespace, runs: list[report.Figures]) -> None:
    print()
    print(
        f"machine: {os.cpu_count()} cores, load average "
        f"{' '.join(f'{v:.2f}' for v in os.getloadavg())}; "
        f"{args.clients} client processes, {args.uvicorn_workers} uvicorn worker(s)"
    )
    report.print_table(runs)
    report.print_verdict(runs)


if __name__ == "__main__":
    main()
