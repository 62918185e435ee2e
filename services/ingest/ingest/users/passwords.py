"""Argon2id password hashes, computed off the event loop."""

import asyncio

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

# argon2-cffi's defaults (RFC 9106's second recommended option: 64 MiB,
# 3 passes, 4 lanes) take tens of milliseconds per hash.
HASHER = PasswordHasher()
MIN_PASSWORD_CHARS = 12
MAX_PASSWORD_CHARS = 256
# Verified against when the email is unknown, so that a wrong email costs as
# long as a wrong password and response times do not tell which exist.
_UNKNOWN_USER_HASH = HASHER.hash("no user has this password")


async def hash_password(password: str) -> str:
    return await asyncio.to_thread(HASHER.hash, password)


async def password_matches(password_hash: str | None, password: str) -> bool:
    """Check a password against a hash; None (no such user) costs the same."""
    stored = password_hash or _UNKNOWN_USER_HASH

    def check() -> bool:
        try:
            return HASHER.verify(stored, password)
        except (VerificationError, InvalidHashError):
            return False

    matched = await asyncio.to_thread(check)
    return matched and password_hash is not None


def password_problem(password: str, email: str) -> str | None:
    """Return why a new password is too weak, or None."""
    if len(password) < MIN_PASSWORD_CHARS:
        return (
            f"the password has {len(password)} characters; use at least "
            f"{MIN_PASSWORD_CHARS}"
        )
    if len(password) > MAX_PASSWORD_CHARS:
        return f"the password is longer than {MAX_PASSWORD_CHARS} characters"
    if password.strip().lower() == email.strip().lower():
        return "the password equals the email; choose another"
    if len(set(password)) < 4:
        return "the password repeats too few characters; choose a passphrase"
    return None
