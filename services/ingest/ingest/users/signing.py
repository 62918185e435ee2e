"""The keys that sign people's access tokens: made, stored encrypted, rotated.

The private key is stored encrypted with AES-GCM under a key derived from
INGEST_SIGNING_KEY_SECRET, so a copy of the database alone cannot mint
tokens. Its public half goes out on the tenants topic for every service.
"""

import hashlib
import os
from datetime import datetime, timedelta

import structlog
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from ingest.models import SigningKeySecret, common
from ingest.settings import IngestSettings
from shared.errors import AppError
from shared.events.payloads import (
    PLATFORM_TENANT_ID,
    SigningKeyPublished,
    SigningKeyRetired,
)
from shared.outbox import add_event
from shared.tokens import (
    SigningKey,
    new_signing_key,
    private_key_bytes,
    private_key_from_bytes,
)

log = structlog.get_logger(__name__)

SOURCE = "/ingest"
NONCE_BYTES = 12
# Serialises key creation across ingest processes (any constant works).
SIGNING_KEY_LOCK = 7_301_554


class SigningKeyUnavailableError(AppError):
    """The stored signing key cannot be decrypted with the configured secret."""

    status = 503
    code = "signing-key-unavailable"
    title = "Login unavailable"


def _cipher(settings: IngestSettings) -> AESGCM:
    secret = settings.signing_key_secret.get_secret_value().encode()
    return AESGCM(hashlib.sha256(b"campo-signing-key:" + secret).digest())


async def active_signing_key(
    session: AsyncSession, settings: IngestSettings, *, now: datetime
) -> SigningKey:
    """Return the newest unretired key, making the first one when none exists."""
    key = await _newest_key(session, settings, now=now)
    if key is not None:
        return key
    await session.execute(
        text("SELECT pg_advisory_xact_lock(:lock)"), {"lock": SIGNING_KEY_LOCK}
    )
    key = await _newest_key(session, settings, now=now)
    if key is not None:
        return key
    return await _store_new_key(session, settings, now=now)


async def rotate_signing_key(
    session: AsyncSession, settings: IngestSettings, *, now: datetime
) -> tuple[SigningKey, list[str]]:
    """Make a new signing key and retire the others once their tokens expire.

    Returns the new key and the ids of the keys set to retire.
    """
    await session.execute(
        text("SELECT pg_advisory_xact_lock(:lock)"), {"lock": SIGNING_KEY_LOCK}
    )
    keys = common.signing_keys
    retire_at = now + timedelta(minutes=settings.access_token_minutes, seconds=60)
    older = (
        await session.scalars(select(keys.c.kid).where(keys.c.retired_at.is_(None)))
    ).all()
    for kid in older:
        await session.execute(
            update(keys).where(keys.c.kid == kid).values(retired_at=retire_at)
        )
        await add_event(
            session,
            common,
            SigningKeyRetired(
                tenant_id=PLATFORM_TENANT_ID, kid=kid, retired_at=retire_at
            ),
            source=SOURCE,
            settings=settings,
        )
    return await _store_new_key(session, settings, now=now), list(older)


async def public_keys(session: AsyncSession, *, now: datetime) -> list[dict[str, str]]:
    """Return the JWKs that still verify tokens, newest first."""
    keys = common.signing_keys
    rows = (
        await session.execute(
            select(keys.c.public_jwk)
            .where((keys.c.retired_at.is_(None)) | (keys.c.retired_at > now))
            .order_by(keys.c.created_at.desc())
        )
    ).all()
    return [dict(row.public_jwk) for row in rows]


async def _newest_key(
    session: AsyncSession, settings: IngestSettings, *, now: datetime
) -> SigningKey | None:
    keys = common.signing_keys
    row = (
        await session.execute(
            select(SigningKeySecret)
            .join(keys, keys.c.kid == SigningKeySecret.kid)
            .where(keys.c.retired_at.is_(None))
            .order_by(SigningKeySecret.created_at.desc())
            .limit(1)
        )
    ).scalar_one_or_none()
    if row is None:
        return None
    try:
        raw = _cipher(settings).decrypt(row.nonce, row.encrypted_key, row.kid.encode())
    except InvalidTag:
        log.error("auth.signing_key_undecryptable", kid=row.kid)
        raise SigningKeyUnavailableError(
            f"signing key {row.kid} cannot be decrypted: INGEST_SIGNING_KEY_SECRET "
            "differs from the one it was stored with; restore that secret, or run "
            "`campo-admin auth rotate-signing-key` with the new one"
        ) from None
    return SigningKey(kid=row.kid, private_key=private_key_from_bytes(raw))


async def _store_new_key(
    session: AsyncSession, settings: IngestSettings, *, now: datetime
) -> SigningKey:
    key = new_signing_key()
    nonce = os.urandom(NONCE_BYTES)
    encrypted = _cipher(settings).encrypt(
        nonce, private_key_bytes(key.private_key), key.kid.encode()
    )
    session.add(
        SigningKeySecret(
            kid=key.kid, nonce=nonce, encrypted_key=encrypted, created_at=now
        )
    )
    jwk = key.public_jwk()
    await session.execute(
        common.signing_keys.insert().values(kid=key.kid, public_jwk=jwk, created_at=now)
    )
    await add_event(
        session,
        common,
        SigningKeyPublished(
            tenant_id=PLATFORM_TENANT_ID, kid=key.kid, public_jwk=jwk, created_at=now
        ),
        source=SOURCE,
        settings=settings,
    )
    await session.flush()
    return key
