"""Run the four services as separate processes, the way they are deployed."""

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import httpx

DEFAULT_PORTS = {"ingest": 8001, "matching": 8002, "visits": 8003, "reporting": 8004}
HEALTH_TIMEOUT_SECONDS = 60.0
STOP_TIMEOUT_SECONDS = 15.0


class ServiceStartError(RuntimeError):
    pass


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def port_in_use(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


@dataclass
class ServiceProcess:
    """One service under uvicorn, with its output in a log file."""

    name: str
    port: int
    log_path: Path
    env: Mapping[str, str] = field(default_factory=dict)
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        if port_in_use(self.port):
            raise ServiceStartError(
                f"{self.name}: port {self.port} is already in use; stop whatever "
                "listens there or choose other ports"
            )
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        log = self.log_path.open("ab")
        command = [
            sys.executable,
            "-m",
            "uvicorn",
            f"{self.name}.app:create_app",
            "--factory",
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--no-access-log",
            # Nothing sits in front: a client on this host must not choose its
            # own address for the login limits with X-Forwarded-For.
            "--no-proxy-headers",
        ]
        self.process = subprocess.Popen(
            command,
            env={**os.environ, **self.env},
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()

    def wait_healthy(self, timeout_seconds: float = HEALTH_TIMEOUT_SECONDS) -> None:
        deadline = time.monotonic() + timeout_seconds
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise ServiceStartError(
                    f"{self.name} exited with code {self.process.returncode}; "
                    f"see {self.log_path}:\n{self.log_tail()}"
                )
            try:
                if httpx.get(f"{self.url}/health", timeout=1.0).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise ServiceStartError(
            f"{self.name} did not respond on {self.url}/health within "
            f"{timeout_seconds:.0f} s; see {self.log_path}:\n{self.log_tail()}"
        )

    def stop(self) -> None:
        """Stop with SIGTERM, so the lifespan closes consumers cleanly; then SIGKILL."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(STOP_TIMEOUT_SECONDS)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def log_tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(
                self.log_path.read_text(errors="replace").splitlines()[-lines:]
            )
        except OSError:
            return "(no log)"


def start_services(
    log_dir: Path,
    env: Mapping[str, str],
    ports: Mapping[str, int] = DEFAULT_PORTS,
    names: tuple[str, ...] = tuple(DEFAULT_PORTS),
) -> dict[str, ServiceProcess]:
    """Start the named services and wait until each responds; stop all on failure."""
    services = {
        name: ServiceProcess(name, ports[name], log_dir / f"{name}.log", env)
        for name in names
    }
    try:
        for service in services.values():
            service.start()
        for service in services.values():
            service.wait_healthy()
    except BaseException:
        stop_services(services)
        raise
    return services


def stop_services(services: Mapping[str, ServiceProcess]) -> None:
    for service in services.values():
        service.stop()
