"""A cap on request body size, checked before any route reads the body.

FastAPI reads and parses the whole body before it runs the dependencies
that authenticate the caller, so without a cap an anonymous client can make
a service parse or spool any amount of data before its 401.
"""

import json
import re
from collections.abc import Mapping

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shared.errors import (
    PROBLEM_CONTENT_TYPE,
    PROBLEM_TYPE_BASE,
    PayloadTooLargeError,
    RequestTooLargeError,
    too_large_detail,
)


class BodyLimitMiddleware:
    """Reject request bodies over `default_limit` bytes, or the route's own limit.

    A Content-Length over the limit gets a 413 before any byte is read. A
    body without one (chunked) is counted as it streams and the request fails
    with 413 as soon as it passes the limit.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        default_limit: int,
        route_limits: Mapping[tuple[str, str], int] | None = None,
    ) -> None:
        self.app = app
        self.default_limit = default_limit
        self.route_limits = dict(route_limits or {})
        # A path with `{name}` segments, such as /visits/{visit_id}/photos,
        # matches any one segment there.
        self.pattern_limits = [
            (method, re.compile(_segment_pattern(path)), limit)
            for (method, path), limit in self.route_limits.items()
            if "{" in path
        ]

    def limit_for(self, method: str, path: str) -> int:
        path = path.rstrip("/") or "/"
        exact = self.route_limits.get((method, path))
        if exact is not None:
            return exact
        for route_method, pattern, limit in self.pattern_limits:
            if route_method == method and pattern.fullmatch(path):
                return limit
        return self.default_limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit_for(scope["method"], scope["path"])
        declared = _content_length(scope)
        if declared is not None and declared > limit:
            await _send_too_large(send, limit, scope["path"])
            return

        received = 0
        started = False

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise RequestTooLargeError(limit)
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counting_receive, tracking_send)
        except RequestTooLargeError:
            # Reached only when no handler rendered the error first.
            if started:
                raise
            await _send_too_large(send, limit, scope["path"])


def _segment_pattern(path: str) -> str:
    return re.sub(r"\\\{[^/]*?\\\}", "[^/]+", re.escape(path))


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


async def _send_too_large(send: Send, limit: int, path: str) -> None:
    body = json.dumps(
        {
            "type": PROBLEM_TYPE_BASE + PayloadTooLargeError.code,
            "title": PayloadTooLargeError.title,
            "status": 413,
            "detail": too_large_detail(limit),
            "instance": path,
            "max_bytes": limit,
        }
    ).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [
                (b"content-type", PROBLEM_CONTENT_TYPE.encode()),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
