"""A local webhook endpoint that verifies every delivery's signature.

Verification uses the `standardwebhooks` reference library, never our own
signing code, so a wrong signature scheme on our side shows up here.
"""

import asyncio
import json
import socket
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from standardwebhooks.webhooks import Webhook, WebhookVerificationError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route


@dataclass
class Delivery:
    webhook_id: str
    event_type: str | None
    verified: bool
    error: str | None
    data: dict[str, Any] | None


@dataclass
class WebhookReceiver:
    """Collects deliveries; `secret` is set once the subscription returns it."""

    secret: str | None = None
    deliveries: list[Delivery] = field(default_factory=list)
    port: int = 0
    _server: uvicorn.Server | None = None
    _task: asyncio.Task[None] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/webhooks"

    def verified_ids(self) -> set[str]:
        return {d.webhook_id for d in self.deliveries if d.verified}

    def failures(self) -> list[Delivery]:
        return [d for d in self.deliveries if not d.verified]

    async def _receive(self, request: Request) -> Response:
        body = await request.body()
        headers = {name: value for name, value in request.headers.items()}
        webhook_id = headers.get("webhook-id", "")
        if self.secret is None:
            self.deliveries.append(
                Delivery(webhook_id, None, False, "no secret yet", None)
            )
            return Response(status_code=503)
        try:
            payload = Webhook(self.secret).verify(body, headers)
        except WebhookVerificationError as error:
            self.deliveries.append(Delivery(webhook_id, None, False, str(error), None))
            return Response(status_code=400)
        if not isinstance(payload, dict):
            payload = json.loads(body)
        self.deliveries.append(
            Delivery(webhook_id, payload.get("type"), True, None, payload.get("data"))
        )
        return Response(status_code=204)

    async def start(self) -> None:
        app = Starlette(routes=[Route("/webhooks", self._receive, methods=["POST"])])
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        self.port = sock.getsockname()[1]
        config = uvicorn.Config(app, log_level="warning", access_log=False)
        self._server = uvicorn.Server(config)
        self._task = asyncio.create_task(self._server.serve(sockets=[sock]))
        # uvicorn exposes readiness only as a flag, not as an event to await.
        while not self._server.started:  # noqa: ASYNC110
            await asyncio.sleep(0.05)

    async def stop(self) -> None:
        if self._server is not None and self._task is not None:
            self._server.should_exit = True
            await self._task
