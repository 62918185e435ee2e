"""Alembic glue: each service migrates its own schema and nothing else.

A service's `migrations/env.py` calls `run_alembic_env(metadata, schema)`;
its CLI calls `upgrade(database_url, package)`.
"""

import asyncio
from typing import Any

from alembic import command, context
from alembic.config import Config
from geoalchemy2 import alembic_helpers
from sqlalchemy import MetaData, text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine


def alembic_config(database_url: str, package: str) -> Config:
    config = Config()
    config.set_main_option("script_location", f"{package}:migrations")
    # ConfigParser treats % as interpolation; escape it in passwords.
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return config


def upgrade(database_url: str, package: str, revision: str = "head") -> None:
    command.upgrade(alembic_config(database_url, package), revision)


def run_alembic_env(metadata: MetaData, schema: str) -> None:
    """Body of a service's env.py: run migrations online over asyncpg."""
    url = context.config.get_main_option("sqlalchemy.url")
    assert url is not None, "sqlalchemy.url is not set in the Alembic config"
    asyncio.run(_run_async(url, metadata, schema))


async def _run_async(url: str, metadata: MetaData, schema: str) -> None:
    engine = create_async_engine(url)
    try:
        async with engine.begin() as connection:
            await connection.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{schema}"'))
            await connection.run_sync(_run_sync, metadata, schema)
    finally:
        await engine.dispose()


def _run_sync(connection: Connection, metadata: MetaData, schema: str) -> None:
    def include_name(name: str | None, type_: str, parent_names: Any) -> bool:
        if type_ == "schema":
            return name == schema
        return True

    def include_object(obj: Any, name: str | None, type_: str, *args: Any) -> bool:
        return bool(alembic_helpers.include_object(obj, name, type_, *args))

    context.configure(
        connection=connection,
        target_metadata=metadata,
        version_table_schema=schema,
        include_schemas=True,
        include_name=include_name,
        include_object=include_object,
        process_revision_directives=alembic_helpers.writer,
        render_item=alembic_helpers.render_item,
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()
