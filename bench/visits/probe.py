"""Count the statements and the CPU time of single check-ins and results.

    uv run python -m bench.visits.probe [--requests 200] [--profile FILE]

Seeds a database of its own like the bench, runs the visits app in this
process (lifespan, relay and all) behind httpx's in-memory transport, and
sends check-ins and results one at a time, never two at once. Each request
is counted with an engine listener: every round trip to PostgreSQL,
BEGIN, COMMIT and the pool's pre-ping included. The CPU time is this
process's (`time.process_time`) per request, so it includes the client's
share (about 0.2 ms) and any relay work that runs while a request waits.
`--profile` writes cProfile statistics of the timed requests to FILE.
"""

import argparse
import asyncio
import cProfile
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from statistics import median
from typing import Any

import httpx
from sqlalchemy import event

from bench.visits import load, seed, servers
from shared.auth import issue_agent_token
from shared.settings import ServiceSettings

WARMUP_REQUESTS = 20
PROBED: ContextVar[bool] = ContextVar("probed", default=False)


class StatementCounter:
    """Count the round trips an engine makes, by the first word of each."""

    def __init__(self) -> None:
        self.kinds: Counter[str] = Counter()
        self.pre_ping = False
        self.uncached: Counter[str] = Counter()

    def attach(self, engine: Any) -> None:
        sync_engine = engine.sync_engine
        # A pre-ping is a round trip on checkout that fires no statement event.
        self.pre_ping = bool(getattr(sync_engine.pool, "_pre_ping", False))
        event.listen(sync_engine, "before_cursor_execute", self._on_statement)
        event.listen(sync_engine, "begin", self._on_begin)
        event.listen(sync_engine, "commit", self._on_end("COMMIT"))
        event.listen(sync_engine, "rollback", self._on_end("ROLLBACK"))
        event.listen(sync_engine.pool, "checkout", self._on_checkout)

    def _count(self, kind: str) -> None:
        # The relay shares the engine; only the probed request counts. Its
        # context reaches the tasks the middleware starts for it.
        if PROBED.get():
            self.kinds[kind] += 1

    def _on_statement(self, *args: Any) -> None:
        self._count(args[2].split(None, 1)[0].upper())
        # A statement compiled anew on every request costs more than its
        # round trip; its first line names it.
        stats = args[4]._get_cache_stats() if args[4].compiled is not None else ""
        if PROBED.get() and not stats.startswith("cached"):
            self.uncached[args[2].split("\n", 1)[0][:60]] += 1

    def _on_begin(self, *args: Any) -> None:
        self._count("BEGIN")

    def _on_end(self, name: str) -> Callable[..., None]:
        def count(*args: Any) -> None:
            self._count(name)

        return count

    def _on_checkout(self, *args: Any) -> None:
        self._count("CHECKOUT")

    def take(self) -> Counter[str]:
        taken, self.kinds = self.kinds, Counter()
        checkouts = taken.pop("CHECKOUT", 0)
        if self.pre_ping and checkouts:
            taken["PRE-PING"] = checkouts
        return taken


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--profile", default=None)
    return parser.parse_args()


async def timed(
    send: Callable[[], Awaitable[httpx.Response]],
    counter: StatementCounter,
) -> tuple[float, Counter[str], int]:
    counter.take()
    started = time.process_time()
    token = PROBED.set(True)
    try:
        response = await send()
    finally:
        PROBED.reset(token)
    cpu = time.process_time() - started
    return cpu, counter.take(), response.status_code


async def probe(args: argparse.Namespace, database_url: str, kafka: str) -> None:
    import os

    os.environ.update(
        {
            "DATABASE_URL": database_url,
            "KAFKA_BOOTSTRAP_SERVERS": kafka,
            # One prefix for every run: each new topic costs the broker open
            # files, and the probe reads none of its events back.
            "KAFKA_TOPIC_PREFIX": "bench-probe.",
            "VISITS_VISITING_HOURS": "false",
        }
    )
    from tests.fixtures.apps import running_app
    from visits.app import create_app

    seeded = await seed.seed(
        servers.plain_dsn(database_url),
        visits=args.requests + WARMUP_REQUESTS,
        agents=max(20, args.requests // 10),
    )
    secret = ServiceSettings().agent_token_secret.get_secret_value()
    tokens: dict[str, str] = {}

    def token(agent_id: str) -> str:
        if agent_id not in tokens:
            tokens[agent_id] = issue_agent_token(uuid.UUID(agent_id), secret=secret)
        return tokens[agent_id]

    app = create_app()
    async with running_app(app) as client:
        counter = StatementCounter()
        counter.attach(app.state.runtime.engine)

        def check_in(index: int) -> Callable[[], Awaitable[httpx.Response]]:
            visit = seeded.assigned[index]
            return lambda: client.post(
                f"/agent/visits/{visit.visit_id}/check-in",
                json=load.check_in_body(),
                headers={"Authorization": f"Bearer {token(visit.agent_id)}"},
            )

        def result(index: int) -> Callable[[], Awaitable[httpx.Response]]:
            visit = seeded.checked_in[index]
            return lambda: client.post(
                f"/agent/visits/{visit.visit_id}/result",
                json=load.result_body(visit.photo_id),
                headers={"Authorization": f"Bearer {token(visit.agent_id)}"},
            )

        for index in range(WARMUP_REQUESTS):
            await timed(check_in(index), counter)
            await timed(result(index), counter)
        profiler = cProfile.Profile() if args.profile else None
        figures: dict[str, list[tuple[float, Counter[str], int]]] = {
            "check-in": [],
            "result": [],
        }
        if profiler:
            profiler.enable()
        for index in range(WARMUP_REQUESTS, WARMUP_REQUESTS + args.requests):
            figures["check-in"].append(await timed(check_in(index), counter))
            figures["result"].append(await timed(result(index), counter))
        if profiler:
            profiler.disable()
            profiler.dump_stats(args.profile)
    for statement, times in counter.uncached.most_common(10):
        print(f"compiled {times} times, not cached: {statement}")
    for kind, runs in figures.items():
        statuses = Counter(status for _, _, status in runs)
        cpu = [run[0] * 1000 for run in runs]
        totals: Counter[str] = Counter()
        for _, kinds, _ in runs:
            totals.update(kinds)
        per_request = {name: count / len(runs) for name, count in totals.items()}
        print(
            f"{kind}: {len(runs)} requests, statuses {dict(statuses)}, "
            f"cpu median {median(cpu):.2f} ms, mean {sum(cpu) / len(cpu):.2f} ms; "
            f"round trips per request {sum(per_request.values()):.2f} "
            f"{ {name: round(n, 2) for name, n in sorted(per_request.items())} }"
        )


def main() -> None:
    args = parse_args()
    admin_url, kafka = servers.server_urls()
    database = f"campo_bench_probe_{uuid.uuid4().hex[:8]}"
    database_url = servers.create_database(admin_url, database)
    try:
        asyncio.run(probe(args, database_url, kafka))
    finally:
        servers.drop_database(admin_url, database)


if __name__ == "__main__":
    main()
