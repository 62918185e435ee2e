"""An open-loop load generator for one slice of a run, in its own process.

    python -m bench.visits.load < plan.json > outcome.json

The plan names the base URL, the requests (check-ins and results, each with
its visit and token), the rate, and a wall-clock start shared by every
client process. Request k is due at start + phase + k / rate and is sent
then, whether or not the earlier ones got a response, so a slow server
never slows the schedule. Latency runs from the due time, not from the
send: time spent waiting for the client or for a free connection counts
against the server, as a user would see it. The lag between the due time
and the actual send shows whether this process kept up.
"""

import asyncio
import json
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

REQUEST_TIMEOUT_SECONDS = 10.0
MAX_CONNECTIONS = 256
DOOR_LAT, DOOR_LON = 19.4326, -99.1332


def check_in_body() -> dict[str, Any]:
    return {
        "lat": DOOR_LAT,
        "lon": DOOR_LON,
        "accuracy_m": 9.0,
        "device_time": datetime.now(UTC).isoformat(),
        "mock_location": False,
    }


def result_body(photo_id: str | None) -> dict[str, Any]:
    """Return a promise to pay, with the form filled in and the visit's photo."""
    today = datetime.now(UTC)
    return {
        "submission_id": f"bench-{uuid.uuid4().hex}",
        "device_time": today.isoformat(),
        "person_met": "debtor",
        "result_code": "promise_to_pay",
        "debtor_lives_there": True,
        "promise": {
            "amount": "1500.00",
            "currency": "MXN",
            "due_date": (today.date() + timedelta(days=7)).isoformat(),
        },
        "new_phone": "+525598765432",
        "notes": "Paga el viernes",
        "answers": {"reason": "job_loss", "monthly_income": 8000},
        "photo_ids": [photo_id] if photo_id else [],
    }


async def send_one(
    client: httpx.AsyncClient, item: dict[str, Any], due: float
) -> dict[str, Any]:
    kind = item["kind"]
    if kind == "check_in":
        path, body = "check-in", check_in_body()
    else:
        path, body = "result", result_body(item.get("photo_id"))
    lag = time.perf_counter() - due
    try:
        response = await client.post(
            f"/agent/visits/{item['visit_id']}/{path}",
            json=body,
            headers={"Authorization": f"Bearer {item['token']}"},
        )
        status = response.status_code
    except httpx.HTTPError as error:
        status = type(error).__name__
    done = time.perf_counter()
    return {
        "kind": kind,
        "status": status,
        "latency_ms": (done - due) * 1000,
        "lag_ms": lag * 1000,
        "done_s": done,
    }


async def run(plan: dict[str, Any]) -> dict[str, Any]:
    items = plan["items"]
    interval = 1.0 / plan["rate"]
    limits = httpx.Limits(
        max_connections=MAX_CONNECTIONS, max_keepalive_connections=MAX_CONNECTIONS
    )
    async with httpx.AsyncClient(
        base_url=plan["url"], limits=limits, timeout=REQUEST_TIMEOUT_SECONDS
    ) as client:
        # Map the shared wall-clock start onto this process's monotonic clock.
        start = time.perf_counter() + (plan["start_at"] - time.time()) + plan["phase"]
        tasks = []
        for k, item in enumerate(items):
            due = start + k * interval
            delay = due - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(send_one(client, item, due)))
        outcomes = await asyncio.gather(*tasks)
    for outcome in outcomes:
        outcome["done_s"] -= start
    return {"outcomes": outcomes}


def main() -> None:
    plan = json.load(sys.stdin)
    try:
        from uvloop import run as run_loop
    except ImportError:
        run_loop = asyncio.run
    json.dump(run_loop(run(plan)), sys.stdout)


if __name__ == "__main__":
    main()
