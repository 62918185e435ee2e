"""Wake the live streams and the delivery worker of every instance on new rows.

Each transaction that writes stream events or webhook deliveries also runs
`NOTIFY`, which PostgreSQL delivers at commit. Every instance keeps one
dedicated connection that `LISTEN`s and turns each notification into a
wake-up of its in-process notifier. The waiters keep a polling timeout, so
when that connection drops they fall back to polling until it is back.
"""

import asyncio
from typing import Any

import asyncpg
import structlog
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncSession

from reporting.notifier import CommitNotifier, commit_notifier, wait_for
from shared.runtime import ServiceRuntime

log = structlog.get_logger(__name__)

CHANNEL = "reporting_rows_written"
HEALTH_CHECK_SECONDS = 10.0
HEALTH_CHECK_TIMEOUT_SECONDS = 5.0
RECONNECT_DELAY_SECONDS = 1.0
# Names the connection in pg_stat_activity, so operators can tell it apart.
APPLICATION_NAME = "campo-reporting-listener"


async def notify_rows_written(session: AsyncSession) -> None:
    """Queue a wake-up in the caller's transaction; it is sent only at commit.

    PostgreSQL folds identical notifications of one transaction into one.
    """
    await session.execute(text("SELECT pg_notify(:channel, '')"), {"channel": CHANNEL})


def listener_dsn(database_url: str) -> str:
    """Turn the SQLAlchemy URL into one that asyncpg.connect accepts."""
    url = make_url(database_url).set(drivername="postgresql")
    return url.render_as_string(hide_password=False)


async def listen_for_rows(runtime: ServiceRuntime) -> None:
    """Keep a LISTEN connection open and reconnect after it drops, until cancelled."""
    notifier = commit_notifier(runtime)
    dsn = listener_dsn(runtime.settings.database_url)
    while True:
        try:
            await _listen_until_lost(dsn, notifier)
        except (
            OSError,
            asyncpg.PostgresError,
            asyncpg.InterfaceError,
            TimeoutError,
        ) as error:
            log.warning(
                "reporting.listener_lost",
                error_type=type(error).__name__,
                retry_in_seconds=RECONNECT_DELAY_SECONDS,
            )
        else:
            log.warning(
                "reporting.listener_lost",
                error_type=None,
                retry_in_seconds=RECONNECT_DELAY_SECONDS,
            )
        finally:
            notifier.listening = False
        await asyncio.sleep(RECONNECT_DELAY_SECONDS)


async def _listen_until_lost(dsn: str, notifier: CommitNotifier) -> None:
    connection = await asyncpg.connect(
        dsn, server_settings={"application_name": APPLICATION_NAME}
    )
    lost = asyncio.Event()

    def on_notification(*_: Any) -> None:
        notifier.wake()

    connection.add_termination_listener(lambda _connection: lost.set())
    try:
        await connection.add_listener(CHANNEL, on_notification)
        notifier.listening = True
        # A commit that landed before LISTEN took effect sent nothing here.
        notifier.wake()
        log.info("reporting.listening", channel=CHANNEL)
        while not lost.is_set():
            await wait_for(lost, HEALTH_CHECK_SECONDS)
            if not lost.is_set():
                # A silently dead connection sends no termination: ask it.
                # asyncio.timeout, not wait_for: see notifier.wait_for.
                async with asyncio.timeout(HEALTH_CHECK_TIMEOUT_SECONDS):
                    await connection.execute("SELECT 1")
    finally:
        notifier.listening = False
        if not connection.is_closed():
            await connection.close(timeout=HEALTH_CHECK_TIMEOUT_SECONDS)
