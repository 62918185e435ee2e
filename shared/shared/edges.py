"""What every response carries at the edge: security headers and CORS.

The APIs return JSON, problem documents, photos, file exports and an event
stream; none of them is a page to frame or a script to run, so the headers
forbid both. The interactive documentation under `/docs` and `/redoc` loads
its scripts and styles from a CDN and gets a policy that allows them; it
is not served in production (see `docs_pages` in `runtime.py`).

CORS is off unless `CAMPO_CORS_ORIGINS` lists the director portal's origins.
The portal sends bearer tokens, never cookies, so credentials stay off and a
listed origin gets no more than an unlisted page could do with a token it
already holds.
"""

from collections.abc import Iterable
from urllib.parse import urlsplit

from fastapi import FastAPI
from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

API_CONTENT_SECURITY_POLICY = "default-src 'none'; frame-ancestors 'none'"
DOCS_CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net; "
    "style-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net "
    "https://fonts.googleapis.com; font-src https://fonts.gstatic.com; "
    "img-src 'self' data: https://fastapi.tiangolo.com https://cdn.redoc.ly; "
    "connect-src 'self'; worker-src blob:; frame-ancestors 'none'"
)
DOCS_PATHS = ("/docs", "/redoc")
HSTS_VALUE = "max-age=63072000; includeSubDomains"

CORS_ALLOWED_HEADERS = (
    "Authorization",
    "Content-Type",
    "Idempotency-Key",
    "If-Match",
    "Last-Event-ID",
    "X-API-Key",
)
CORS_EXPOSED_HEADERS = ("Location", "Retry-After", "ETag", "X-Request-ID")
CORS_MAX_AGE_SECONDS = 600


def parse_cors_origins(raw: str, *, allow_http: bool) -> tuple[str, ...]:
    """Split a comma-separated origin list and check each one is an exact origin.

    An origin is a scheme, a host and an optional port, with no path, query
    or wildcard: `https://portal.example.mx`. Plain http is accepted only in
    development and test, where the portal runs on a laptop.
    """
    origins = []
    for item in (part.strip() for part in raw.split(",")):
        if not item:
            continue
        origins.append(_checked_origin(item, allow_http=allow_http))
    return tuple(dict.fromkeys(origins))


def _checked_origin(origin: str, *, allow_http: bool) -> str:
    if "*" in origin:
        raise ValueError(
            f"CORS origin {origin!r} contains a wildcard; list each portal origin "
            "exactly, e.g. https://portal.example.mx"
        )
    parts = urlsplit(origin)
    schemes = ("https", "http") if allow_http else ("https",)
    if parts.scheme not in schemes or not parts.hostname:
        raise ValueError(
            f"CORS origin {origin!r} is invalid: expected scheme "
            f"{' or '.join(schemes)} and a host, as in https://host[:port]"
        )
    if parts.path not in ("", "/") or parts.query or parts.fragment or parts.username:
        raise ValueError(
            f"CORS origin {origin!r} is invalid because it contains a path, "
            "query or user; write only scheme, host and port, e.g. "
            "https://portal.example.mx"
        )
    return origin.rstrip("/").lower()


class SecurityHeadersMiddleware:
    """Add the security headers to every HTTP response, streamed ones included.

    A plain ASGI middleware, not `BaseHTTPMiddleware`: it edits the start
    message only, so a Server-Sent Events stream or an export passes through
    unbuffered.
    """

    def __init__(self, app: ASGIApp, *, strict_transport: bool) -> None:
        self.app = app
        self.strict_transport = strict_transport

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        extra = security_headers(
            scope.get("path", ""), strict_transport=self.strict_transport
        )

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                headers.extend(
                    (name, value) for name, value in extra if name not in present
                )
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)


def security_headers(path: str, *, strict_transport: bool) -> list[tuple[bytes, bytes]]:
    """Return the headers for a response to `path`, as raw ASGI pairs."""
    is_docs = path.startswith(DOCS_PATHS)
    policy = DOCS_CONTENT_SECURITY_POLICY if is_docs else API_CONTENT_SECURITY_POLICY
    headers = {
        "x-content-type-options": "nosniff",
        "x-frame-options": "DENY",
        "referrer-policy": "no-referrer",
        "content-security-policy": policy,
        "cross-origin-opener-policy": "same-origin",
        "permissions-policy": "camera=(), microphone=(), geolocation=()",
    }
    if strict_transport:
        headers["strict-transport-security"] = HSTS_VALUE
    return [(name.encode(), value.encode()) for name, value in headers.items()]


def install_edges(
    app: FastAPI, *, cors_origins: Iterable[str], strict_transport: bool
) -> None:
    """Add CORS (when origins are listed) inside the security headers.

    Starlette runs the last middleware added first, so the headers middleware
    added here wraps CORS and a preflight response gets the headers too.
    """
    origins = list(cors_origins)
    if origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=origins,
            allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
            allow_headers=list(CORS_ALLOWED_HEADERS),
            expose_headers=list(CORS_EXPOSED_HEADERS),
            allow_credentials=False,
            max_age=CORS_MAX_AGE_SECONDS,
        )
    app.add_middleware(SecurityHeadersMiddleware, strict_transport=strict_transport)
