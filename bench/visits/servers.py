"""The bench's database and the two HTTP servers it measures."""

import asyncio
import os
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import httpx

ROOT = Path(__file__).resolve().parents[2]
LOG_DIR = ROOT / ".local" / "bench"
HEALTH_TIMEOUT_SECONDS = 60.0


def plain_dsn(url: str) -> str:
    return url.replace("postgresql+asyncpg://", "postgresql://")


def with_database(url: str, name: str) -> str:
    return url.rpartition("/")[0] + "/" + name


def server_urls() -> tuple[str, str]:
    """Return DATABASE_URL and KAFKA_BOOTSTRAP_SERVERS, else the local servers'."""
    if os.environ.get("DATABASE_URL") and os.environ.get("KAFKA_BOOTSTRAP_SERVERS"):
        return os.environ["DATABASE_URL"], os.environ["KAFKA_BOOTSTRAP_SERVERS"]
    output = subprocess.run(
        ["bash", str(ROOT / "deploy/local/infra.sh"), "env"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    values = {}
    for line in output.splitlines():
        name, _, value = line.removeprefix("export ").partition("=")
        values[name.strip()] = value.strip().strip("'\"")
    return values["DATABASE_URL"], values["KAFKA_BOOTSTRAP_SERVERS"]


async def admin(url: str, *statements: str) -> None:
    connection = await asyncpg.connect(plain_dsn(url))
    try:
        for statement in statements:
            await connection.execute(statement)
    finally:
        await connection.close()


def create_database(admin_url: str, name: str) -> str:
    """Create a database with PostGIS and visits' schema; return its URL."""
    from shared.migrations import upgrade

    asyncio.run(admin(admin_url, f'CREATE DATABASE "{name}"'))
    url = with_database(admin_url, name)
    asyncio.run(admin(url, "CREATE EXTENSION IF NOT EXISTS postgis"))
    upgrade(url, "visits")
    return url


def drop_database(admin_url: str, name: str) -> None:
    asyncio.run(admin(admin_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


async def written_and_unsent(url: str, query: str) -> tuple[int, int]:
    connection = await asyncpg.connect(plain_dsn(url))
    try:
        row = await connection.fetchrow(query)
    finally:
        await connection.close()
    return int(row[0]), int(row[1])


def wait_until_idle(url: str, query: str, timeout_seconds: float = 300.0) -> float:
    """Wait until a server stops writing and its outbox is sent; return seconds.

    `query` returns the rows the server has written and its unsent events.
    Idle is one second with the same count and nothing unsent.
    """
    started = time.monotonic()
    last = -1
    while True:
        written, unsent = asyncio.run(written_and_unsent(url, query))
        if written == last and unsent == 0:
            return time.monotonic() - started - 1.0
        if time.monotonic() - started > timeout_seconds:
            raise TimeoutError(
                f"the server still writes {timeout_seconds:.0f} s after its run "
                f"({unsent} events unsent); see the logs in {LOG_DIR}"
            )
        last = written
        time.sleep(1.0)


def process_cpu_seconds(pid: int) -> float:
    """Return user plus system CPU seconds of one process, 0 once it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except FileNotFoundError:
        return 0.0
    # After the command name: state is field 3, utime 14 and stime 15.
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def children(pid: int) -> list[int]:
    """Return the ids of the processes whose parent is `pid` (uvicorn workers)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            parent = int(stat.read_text().rpartition(")")[2].split()[1])
        except (FileNotFoundError, ProcessLookupError, IndexError, ValueError):
            continue
        if parent == pid:
            found.append(int(stat.parent.name))
    return found


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class Server:
    """One app under uvicorn on 127.0.0.1, its output in a log file."""

    name: str
    factory: str
    workers: int = 1
    port: int = 0
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def log_path(self) -> Path:
        return LOG_DIR / f"visits-{self.name}.log"

    def start(self, env: dict[str, str]) -> None:
        self.port = free_port()
        LOG_DIR.mkdir(parents=True, exist_ok=True)
        command = [
            sys.executable,
            "-m",
            "uvicorn",
            self.factory,
            "--factory",
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--no-access-log",
            "--workers",
            str(self.workers),
        ]
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(
                command,
                cwd=ROOT,
                env={**os.environ, **env},
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self._wait_healthy()

    def _wait_healthy(self) -> None:
        deadline = time.monotonic() + HEALTH_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise RuntimeError(
                    f"{self.name} exited with code {self.process.returncode}; "
                    f"see {self.log_path}"
                )
            try:
                if httpx.get(f"{self.url}/health", timeout=1.0).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise TimeoutError(
            f"{self.name} did not answer /health within "
            f"{HEALTH_TIMEOUT_SECONDS:.0f} s; see {self.log_path}"
        )

    def cpu_seconds(self) -> float:
        """Return the CPU time of the server and its worker processes so far."""
        assert self.process is not None
        return sum(
            process_cpu_seconds(pid)
            for pid in [self.process.pid, *children(self.process.pid)]
        )

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
