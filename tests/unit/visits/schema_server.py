"""A JSON Schema server on 127.0.0.1 that counts the requests it receives.

Tests point a brief's `$ref` at it to prove that visits never fetches one.
"""

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

SECRET_SCHEMA = {"const": "SECRET-INTERNAL-VALUE-42"}


@dataclass
class SchemaServer:
    base_url: str
    paths: list[str] = field(default_factory=list)

    @property
    def requests(self) -> int:
        return len(self.paths)


@contextmanager
def schema_server() -> Iterator[SchemaServer]:
    """Serve SECRET_SCHEMA at every path and record each request's path."""
    server = SchemaServer(base_url="")

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            server.paths.append(self.path)
            body = json.dumps(SECRET_SCHEMA).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/schema+json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            return

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.base_url = f"http://127.0.0.1:{httpd.server_address[1]}"
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)
