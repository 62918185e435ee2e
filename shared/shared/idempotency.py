"""Replay of the first response to a POST that carries an Idempotency-Key."""

import hashlib
import json
from collections.abc import Awaitable, Callable
from typing import Any
from uuid import UUID

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from shared.errors import ConflictError, UnprocessableError
from shared.tables import CommonTables

MAX_KEY_LENGTH = 200


class IdempotencyKeyReusedError(UnprocessableError):
    code = "idempotency-key-reused"
    title = "Idempotency key reused with a different request"


def fingerprint(*parts: bytes | str) -> str:
    digest = hashlib.sha256()
    for part in parts:
        digest.update(part.encode() if isinstance(part, str) else part)
        digest.update(b"\0")
    return digest.hexdigest()


async def run_idempotent(
    session: AsyncSession,
    tables: CommonTables,
    *,
    tenant_id: UUID,
    key: str | None,
    request_fingerprint: str,
    action: Callable[[], Awaitable[tuple[int, Any]]],
) -> tuple[int, Any]:
    """Run `action` once per (tenant, key) and store its response with its effect.

    The caller's session must not be in a transaction. A second request with
    the same key and the same fingerprint gets the stored response; with a
    different fingerprint it gets a 422. When two requests race, the primary
    key on (tenant, key) makes the loser's transaction fail, and it then
    returns the winner's stored response.
    """
    if key is None:
        async with session.begin():
            return await action()
    if not key or len(key) > MAX_KEY_LENGTH:
        raise UnprocessableError(
            f"Idempotency-Key must be 1 to {MAX_KEY_LENGTH} characters long"
        )
    stored = await _stored_response(
        session, tables, tenant_id, key, request_fingerprint
    )
    if stored is not None:
        return stored
    try:
        async with session.begin():
            status, body = await action()
            inserted = (
                await session.execute(
                    insert(tables.idempotency_keys)
                    .values(
                        tenant_id=tenant_id,
                        key=key,
                        request_fingerprint=request_fingerprint,
                        status_code=status,
                        response_body=json.dumps(body, default=str),
                    )
                    .on_conflict_do_nothing()
                    .returning(tables.idempotency_keys.c.key)
                )
            ).first()
            if inserted is None:
                raise _LostRaceError
    except _LostRaceError:
        stored = await _stored_response(
            session, tables, tenant_id, key, request_fingerprint
        )
        if stored is None:
            raise ConflictError(
                f"Idempotency-Key {key!r} is in use by a concurrent request; retry"
            ) from None
        return stored
    return status, body


class _LostRaceError(Exception):
    """Another request stored a response for the same key first; roll back ours."""


async def _stored_response(
    session: AsyncSession,
    tables: CommonTables,
    tenant_id: UUID,
    key: str,
    request_fingerprint: str,
) -> tuple[int, Any] | None:
    table = tables.idempotency_keys
    async with session.begin():
        row = (
            await session.execute(
                select(table).where(table.c.tenant_id == tenant_id, table.c.key == key)
            )
        ).first()
    if row is None:
        return None
    if row.request_fingerprint != request_fingerprint:
        raise IdempotencyKeyReusedError(
            f"Idempotency-Key {key!r} was already used for a different request; "
            "use a new key for a new request"
        )
    return row.status_code, json.loads(row.response_body)
