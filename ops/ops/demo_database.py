"""A database and a set of topics of the demo's own, new for every run.

Agents from an earlier run would otherwise sit at the same places and take
visits that this run's simulated agents never play. So each run recreates
the `campo_demo` database (CAMPO_DEMO_DATABASE names another) on the server
of DATABASE_URL, and uses topics under a new prefix.
"""

import os
import re
from datetime import UTC, datetime

import asyncpg

from shared.settings import ServiceSettings

DEFAULT_DATABASE = "campo_demo"
_DATABASE_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


class DemoDatabaseError(RuntimeError):
    pass


def _plain(url: str) -> str:
    return url.replace("postgresql+asyncpg://", "postgresql://", 1)


def _swap_database(url: str, name: str) -> str:
    base, _, rest = url.rpartition("/")
    query = rest.partition("?")[2]
    return f"{base}/{name}" + (f"?{query}" if query else "")


async def recreate_demo_database() -> tuple[str, str]:
    """Drop and create the demo database; return its URL and a new topic prefix."""
    settings = ServiceSettings()
    name = os.environ.get("CAMPO_DEMO_DATABASE", DEFAULT_DATABASE)
    if not _DATABASE_NAME.fullmatch(name):
        raise DemoDatabaseError(
            f"CAMPO_DEMO_DATABASE={name!r} is not a plain lower-case database name"
        )
    admin_url = settings.database_url
    if admin_url.rpartition("/")[2].partition("?")[0] == name:
        raise DemoDatabaseError(
            f"DATABASE_URL points at {name}, which the demo drops; point it at "
            "another database on the same server"
        )
    try:
        connection = await asyncpg.connect(_plain(admin_url))
    except (OSError, asyncpg.PostgresError) as error:
        raise DemoDatabaseError(f"cannot connect with DATABASE_URL: {error}") from None
    try:
        await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await connection.execute(f'CREATE DATABASE "{name}"')
    except asyncpg.PostgresError as error:
        raise DemoDatabaseError(
            f"cannot recreate the demo database {name}: {error}; the role in "
            "DATABASE_URL needs the CREATEDB privilege"
        ) from None
    finally:
        await connection.close()
    demo_url = _swap_database(admin_url, name)
    database = await asyncpg.connect(_plain(demo_url))
    try:
        await database.execute("CREATE EXTENSION IF NOT EXISTS postgis")
    finally:
        await database.close()
    stamp = datetime.now(UTC).strftime("%Y%m%d%H%M%S")
    return demo_url, f"{settings.kafka_topic_prefix}demo-{stamp}."
