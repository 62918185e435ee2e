"""Arrival clocks and percentiles for the reporting benchmark."""

import asyncio
import json
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route


@dataclass
class Arrivals:
    """perf_counter() times by visit id: when each event was sent and seen."""

    sent: dict[str, float] = field(default_factory=dict)
    webhook: dict[str, float] = field(default_factory=dict)
    sse: dict[str, float] = field(default_factory=dict)

    def latencies_ms(self, seen: dict[str, float]) -> list[float]:
        return [
            (seen[visit_id] - sent) * 1000
            for visit_id, sent in self.sent.items()
            if visit_id in seen
        ]

    def stream_rate(self) -> tuple[int, float, float] | None:
        """Return the events seen on the stream, their span in s and their rate.

        The span runs from the first event sent to the last one seen, so a
        consumer that falls behind shows a rate below the rate offered.
        """
        if not self.sse or not self.sent:
            return None
        span = max(self.sse.values()) - min(self.sent.values())
        return len(self.sse), span, len(self.sse) / span

    def all_seen(self) -> bool:
        return len(self.webhook) >= len(self.sent) and len(self.sse) >= len(self.sent)


def webhook_receiver(arrivals: Arrivals) -> Starlette:
    """A receiver that notes the first arrival of each visit and answers 204."""

    async def hook(request: Request) -> Response:
        seen_at = time.perf_counter()
        document = json.loads(await request.body())
        arrivals.webhook.setdefault(document["data"]["visit_id"], seen_at)
        return Response(status_code=204)

    return Starlette(routes=[Route("/hook", hook, methods=["POST"])])


async def read_stream(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    arrivals: Arrivals,
    connected: asyncio.Event,
) -> None:
    """Follow the SSE stream of visit.completed events until cancelled."""
    params = {"types": "visit.completed"}
    async with client.stream(
        "GET", "/stream", params=params, headers=headers, timeout=None
    ) as response:
        response.raise_for_status()
        connected.set()
        async for line in response.aiter_lines():
            if not line.startswith("data:"):
                continue
            seen_at = time.perf_counter()
            document = json.loads(line.removeprefix("data:").strip())
            arrivals.sse.setdefault(document["data"]["visit_id"], seen_at)


@dataclass(frozen=True)
class Summary:
    count: int
    p50: float
    p99: float
    maximum: float


def percentile(values: Sequence[float], share: float) -> float:
    """Nearest-rank percentile: the smallest value with `share` of them at or below."""
    ordered = sorted(values)
    rank = max(1, math.ceil(share * len(ordered)))
    return ordered[rank - 1]


def summarise(values: Sequence[float]) -> Summary | None:
    if not values:
        return None
    return Summary(
        count=len(values),
        p50=percentile(values, 0.50),
        p99=percentile(values, 0.99),
        maximum=max(values),
    )
