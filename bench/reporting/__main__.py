"""Measure how fast a visit result reaches a webhook receiver and an SSE client.

    uv run python -m bench.reporting [--rate 200] [--seconds 60] [--deliver-apart]

Creates a database of its own with reporting's schema, and topics under a
prefix of its own. Starts the reporting service with uvicorn in a
subprocess on 127.0.0.1, and a webhook receiver and an SSE client in this
process. With --deliver-apart, the API process runs with
REPORTING_DELIVERY_IN_PROCESS=false and `campo-reporting deliver` runs the
webhook delivery worker in a third process. Then publishes
`campo.visit.completed` events to Kafka at a steady rate. Each event's
latency runs from the moment it is handed to the Kafka producer to its
arrival at the receiver and on the stream, both measured with this
process's clock. Prints p50, p99 and max against the targets.
"""

import argparse
import asyncio
import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
import httpx
import uvicorn

from bench.reporting.probes import (
    Arrivals,
    Summary,
    read_stream,
    summarise,
    webhook_receiver,
)
from shared.auth import generate_api_key
from shared.events import Envelope, Payload
from shared.events.payloads import (
    ApiKeyCreated,
    PersonMet,
    TenantCreated,
    VisitCompleted,
)
from shared.kafka import create_producer, delete_topics, ensure_topics
from shared.migrations import upgrade
from shared.settings import ServiceSettings

TARGET_WEBHOOK_P99_MS = 250.0
TARGET_SSE_P99_MS = 150.0
DRAIN_SECONDS = 30.0
STARTUP_SECONDS = 60.0


def server_urls() -> tuple[str, str]:
    """Use DATABASE_URL and KAFKA_BOOTSTRAP_SERVERS, else what infra.sh prints."""
    if os.environ.get("DATABASE_URL") and os.environ.get("KAFKA_BOOTSTRAP_SERVERS"):
        return os.environ["DATABASE_URL"], os.environ["KAFKA_BOOTSTRAP_SERVERS"]
    output = subprocess.run(
        ["bash", "deploy/local/infra.sh", "env"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    values = {}
    for line in output.splitlines():
        name, _, value = line.removeprefix("export ").partition("=")
        values[name.strip()] = value.strip().strip("'\"")
    return values["DATABASE_URL"], values["KAFKA_BOOTSTRAP_SERVERS"]


def with_database(url: str, name: str) -> str:
    base, _, _ = url.rpartition("/")
    return f"{base}/{name}"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def plain_dsn(url: str) -> str:
    return url.replace("postgresql+asyncpg://", "postgresql://", 1)


async def admin(url: str, statement: str) -> None:
    connection = await asyncpg.connect(plain_dsn(url))
    try:
        await connection.execute(statement)
    finally:
        await connection.close()


@asynccontextmanager
async def bench_database(admin_url: str) -> AsyncIterator[str]:
    name = f"campo_bench_reporting_{uuid.uuid4().hex[:8]}"
    await admin(admin_url, f'CREATE DATABASE "{name}"')
    try:
        url = with_database(admin_url, name)
        await asyncio.to_thread(upgrade, url, "reporting")
        yield url
    finally:
        await admin(admin_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


LOG_PATH = Path(".local") / "bench" / "reporting-service.log"


DELIVERY_LOG_PATH = Path(".local") / "bench" / "reporting-deliver.log"


def start_delivery(env: dict[str, str]) -> subprocess.Popen[bytes]:
    """Start `campo-reporting deliver`; its output goes to DELIVERY_LOG_PATH."""
    command = [sys.executable, "-m", "reporting.cli", "deliver"]
    DELIVERY_LOG_PATH.parent.mkdir(parents=True, exist_ok=True)
    with DELIVERY_LOG_PATH.open("w") as log_file:
        return subprocess.Popen(
            command, env=env, stdout=log_file, stderr=subprocess.STDOUT
        )


@asynccontextmanager
async def delivery_process(env: dict[str, str], apart: bool) -> AsyncIterator[None]:
    """Run the delivery worker in a process of its own when `apart` is set."""
    if not apart:
        yield
        return
    process = start_delivery(env)
    try:
        yield
    finally:
        await asyncio.to_thread(stop, process)


def start_reporting(env: dict[str, str], port: int) -> subprocess.Popen[bytes]:
    """Start the reporting service with uvicorn; its output goes to LOG_PATH."""
    command = [
        sys.executable,
        "-m",
        "uvicorn",
        "--factory",
        "reporting.app:create_app",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--log-level",
        "warning",
        "--no-access-log",
    ]
    LOG_PATH.parent.mkdir(parents=True, exist_ok=True)
    with LOG_PATH.open("w") as log_file:
        return subprocess.Popen(
            command, env=env, stdout=log_file, stderr=subprocess.STDOUT
        )


def stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@asynccontextmanager
async def reporting_process(env: dict[str, str], port: int) -> AsyncIterator[str]:
    """Run the reporting service and wait until it answers."""
    process = start_reporting(env, port)
    base = f"http://127.0.0.1:{port}"
    try:
        await wait_until_healthy(base, process)
        yield base
    finally:
        await asyncio.to_thread(stop, process)


async def wait_until_healthy(base: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + STARTUP_SECONDS
    async with httpx.AsyncClient(base_url=base, trust_env=False) as client:
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise RuntimeError(f"reporting exited; see {LOG_PATH}")
            try:
                if (await client.get("/health")).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.2)
    raise RuntimeError(f"reporting did not answer /health in {STARTUP_SECONDS:g} s")


@asynccontextmanager
async def serve(app: object, port: int) -> AsyncIterator[str]:
    config = uvicorn.Config(
        app,  # type: ignore[arg-type]
        host="127.0.0.1",
        port=port,
        lifespan="off",
        log_level="warning",
        access_log=False,
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    for _ in range(500):
        if server.started:
            break
        await asyncio.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


def visit_completed(tenant_id: uuid.UUID, campaign_id: uuid.UUID) -> VisitCompleted:
    now = datetime.now(UTC)
    return VisitCompleted(
        tenant_id=tenant_id,
        visit_id=uuid.uuid4(),
        campaign_id=campaign_id,
        account_id=uuid.uuid4(),
        account_key="BENCH",
        agent_id=uuid.uuid4(),
        submission_id=uuid.uuid4().hex,
        completed_at=now,
        device_time=now,
        person_met=PersonMet.DEBTOR,
        contact=True,
        debtor_lives_there=True,
    )


class Publisher:
    def __init__(self, settings: ServiceSettings) -> None:
        self._settings = settings
        self._producer = create_producer(settings)

    async def __aenter__(self) -> "Publisher":
        await self._producer.start()
        return self

    async def __aexit__(self, *_: object) -> None:
        await self._producer.stop()

    async def send(self, payload: Payload) -> asyncio.Future[object]:
        message = Envelope.wrap(payload, source="/bench").to_kafka()
        key = message.key.encode() if isinstance(message.key, str) else message.key
        return await self._producer.send(
            self._settings.topic(payload.topic),
            value=message.value,
            key=key,
            headers=list(message.headers.items()),
        )

    async def send_and_wait(self, payload: Payload) -> None:
        await (await self.send(payload))


async def create_tenant(
    publisher: Publisher, client: httpx.AsyncClient
) -> tuple[uuid.UUID, dict[str, str]]:
    """Publish a tenant and its key, as ingest would; wait until reporting has both.

    Return the tenant's id and the headers that authenticate as it.
    """
    tenant_id = uuid.uuid4()
    api_key = generate_api_key(uuid.uuid4())
    now = datetime.now(UTC)
    await publisher.send_and_wait(
        TenantCreated(tenant_id=tenant_id, name="Bench", created_at=now)
    )
    await publisher.send_and_wait(
        ApiKeyCreated(
            tenant_id=tenant_id,
            key_id=api_key.key_id,
            prefix=api_key.prefix,
            key_hash=api_key.key_hash,
            created_at=now,
        )
    )
    headers = {"Authorization": f"Bearer {api_key.key}"}
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        if (await client.get("/campaigns", headers=headers)).status_code == 200:
            return tenant_id, headers
        await asyncio.sleep(0.2)
    raise RuntimeError("reporting never accepted the bench tenant's API key")


async def publish_steadily(
    publisher: Publisher,
    tenant_id: uuid.UUID,
    arrivals: Arrivals,
    *,
    rate: float,
    seconds: float,
) -> float:
    """Publish rate × seconds events on a fixed timetable; return the real rate."""
    campaign_id = uuid.uuid4()
    total = int(rate * seconds)
    pending = []
    started = time.perf_counter()
    for index in range(total):
        due = started + index / rate
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        payload = visit_completed(tenant_id, campaign_id)
        arrivals.sent[str(payload.visit_id)] = time.perf_counter()
        pending.append(await publisher.send(payload))
    await asyncio.gather(*pending)
    return total / (time.perf_counter() - started)


async def run(rate: float, seconds: float, *, deliver_apart: bool = False) -> None:
    admin_url, kafka = server_urls()
    prefix = f"bench-reporting-{uuid.uuid4().hex[:8]}."
    arrivals = Arrivals()
    try:
        async with bench_database(admin_url) as database_url:
            env = os.environ | {
                "DATABASE_URL": database_url,
                "KAFKA_BOOTSTRAP_SERVERS": kafka,
                "KAFKA_TOPIC_PREFIX": prefix,
                "CAMPO_ENVIRONMENT": "development",
                "REPORTING_WEBHOOK_ALLOW_LOOPBACK": "true",
                "LOG_LEVEL": "WARNING",
                "REPORTING_DELIVERY_IN_PROCESS": "false" if deliver_apart else "true",
            }
            os.environ.update(
                {"KAFKA_BOOTSTRAP_SERVERS": kafka, "KAFKA_TOPIC_PREFIX": prefix}
            )
            settings = ServiceSettings(database_url=database_url)
            await ensure_topics(settings)
            async with (
                reporting_process(env, free_port()) as base,
                delivery_process(env, deliver_apart),
                serve(webhook_receiver(arrivals), free_port()) as receiver_base,
                httpx.AsyncClient(base_url=base, trust_env=False) as client,
                Publisher(settings) as publisher,
            ):
                tenant_id, headers = await create_tenant(publisher, client)
                created = await client.post(
                    "/webhooks",
                    json={
                        "url": f"{receiver_base}/hook",
                        "event_types": ["visit.completed"],
                    },
                    headers=headers,
                )
                created.raise_for_status()
                connected = asyncio.Event()
                reader = asyncio.create_task(
                    read_stream(client, headers, arrivals, connected)
                )
                await asyncio.wait_for(connected.wait(), 10)
                await warm_up(publisher, tenant_id, arrivals)
                real_rate = await publish_steadily(
                    publisher, tenant_id, arrivals, rate=rate, seconds=seconds
                )
                await drain(arrivals)
                reader.cancel()
                load = os.getloadavg()
    finally:
        await delete_topics(kafka, prefix)
    print(
        "delivery worker: "
        + ("a process of its own" if deliver_apart else "in the API process")
    )
    report(arrivals, rate=rate, real_rate=real_rate, seconds=seconds, load=load)


async def warm_up(
    publisher: Publisher, tenant_id: uuid.UUID, arrivals: Arrivals
) -> None:
    """Send one untimed event and wait until both paths have seen it.

    With --deliver-apart the worker's process may still be starting when the
    API responds, and its start-up is not what the bench measures.
    """
    payload = visit_completed(tenant_id, uuid.uuid4())
    await publisher.send_and_wait(payload)
    visit_id = str(payload.visit_id)
    deadline = time.monotonic() + STARTUP_SECONDS
    while visit_id not in arrivals.webhook or visit_id not in arrivals.sse:
        if time.monotonic() > deadline:
            raise RuntimeError(
                f"the warm-up event did not reach the receiver and the stream in "
                f"{STARTUP_SECONDS:g} s; see {LOG_PATH} and {DELIVERY_LOG_PATH}"
            )
        await asyncio.sleep(0.1)
    del arrivals.webhook[visit_id]
    del arrivals.sse[visit_id]


async def drain(arrivals: Arrivals) -> None:
    for _ in range(int(DRAIN_SECONDS * 10)):
        if arrivals.all_seen():
            return
        await asyncio.sleep(0.1)


def report(
    arrivals: Arrivals,
    *,
    rate: float,
    real_rate: float,
    seconds: float,
    load: tuple[float, float, float],
) -> None:
    sent = len(arrivals.sent)
    print(f"published {sent} visit.completed events in {seconds:g} s")
    print(f"rate asked {rate:g}/s, achieved {real_rate:.1f}/s")
    print(f"load average 1/5/15 min: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
    applied = arrivals.stream_rate()
    if applied is not None:
        count, span, per_second = applied
        print(
            f"applied and streamed {count} events in {span:.1f} s from the first "
            f"sent to the last seen: {per_second:.1f}/s"
        )
    print()
    print("| path | received | p50 ms | p99 ms | max ms | target p99 | met |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    rows = (
        ("webhook", arrivals.webhook, TARGET_WEBHOOK_P99_MS),
        ("SSE", arrivals.sse, TARGET_SSE_P99_MS),
    )
    for name, seen, target in rows:
        summary = summarise(arrivals.latencies_ms(seen))
        print(row(name, summary, sent, target))


def row(name: str, summary: Summary | None, sent: int, target: float) -> str:
    if summary is None:
        return f"| {name} | 0/{sent} | - | - | - | < {target:g} ms | no |"
    met = "yes" if summary.p99 < target and summary.count == sent else "no"
    return (
        f"| {name} | {summary.count}/{sent} | {summary.p50:.1f} | "
        f"{summary.p99:.1f} | {summary.maximum:.1f} | < {target:g} ms | {met} |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=200.0, help="events per second")
    parser.add_argument("--seconds", type=float, default=60.0, help="publishing time")
    parser.add_argument(
        "--deliver-apart",
        action="store_true",
        help="run the webhook delivery worker as `campo-reporting deliver`, "
        "in a process of its own",
    )
    args = parser.parse_args()
    asyncio.run(run(args.rate, args.seconds, deliver_apart=args.deliver_apart))


if __name__ == "__main__":
    main()
