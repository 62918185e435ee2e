"""Lock out password guessing per email and client address.

Five failed logins for one email from one address within 30 s lock that
pair out for 30 s. Each further lockout of the same pair doubles the wait,
up to 15 minutes. A successful login, or an hour without failures, clears
the pair. The lock holds the pair, not the email, so a stranger who types
wrong passwords for someone else's email locks out only their own address,
and the owner logs in from theirs as usual.

The state lives in `ingest.login_failures`, one row per pair, so every
ingest process counts the same failures and a restart keeps the locks. The
rule itself is the pure `after_failure`; the functions below it read and
write the row.
"""

import hashlib
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from ingest.models import LoginFailure
from ingest.users import lockout_repository as repository

FAILURES_TO_LOCK = 5
FAILURE_WINDOW = timedelta(seconds=30)
FIRST_LOCK_SECONDS = 30.0
MAX_LOCK_SECONDS = 15 * 60.0
# After this long without a failure, a pair starts again from the first lock.
FORGET_AFTER = timedelta(hours=1)


@dataclass(frozen=True)
class PairRecord:
    """The state of one pair: its recent failures and its locks."""

    failures: tuple[datetime, ...] = ()
    locks: int = 0
    locked_until: datetime | None = None
    last_failure: datetime | None = None


def wait_seconds(record: PairRecord | None, now: datetime) -> float | None:
    """Return the seconds the pair must still wait, or None when it may try."""
    if record is None or record.locked_until is None:
        return None
    wait = (record.locked_until - now).total_seconds()
    return wait if wait > 0 else None


def after_failure(
    record: PairRecord | None, now: datetime
) -> tuple[PairRecord, float | None]:
    """Count one failure; return the new record and the lock's length, if any."""
    if record is None or _forgotten(record, now):
        record = PairRecord()
    failures = tuple(at for at in record.failures if now - at < FAILURE_WINDOW)
    record = replace(record, failures=(*failures, now), last_failure=now)
    if len(record.failures) < FAILURES_TO_LOCK:
        return record, None
    seconds = lock_seconds(record.locks)
    locked = replace(
        record,
        failures=(),
        locks=record.locks + 1,
        locked_until=now + timedelta(seconds=seconds),
    )
    return locked, seconds


def lock_seconds(previous_locks: int) -> float:
    """Return how long the next lock lasts: 30 s, doubled per earlier lock."""
    return min(FIRST_LOCK_SECONDS * 2 ** min(previous_locks, 16), MAX_LOCK_SECONDS)


def pair_key(email: str, client: str) -> str:
    """Return the row's key, a digest, so that the table stores no email or address."""
    pair = f"{email.strip().lower()}\n{client}"
    return hashlib.sha256(pair.encode()).hexdigest()


def _from_row(row: LoginFailure | None) -> PairRecord | None:
    if row is None:
        return None
    return PairRecord(
        failures=tuple(row.failures),
        locks=row.locks,
        locked_until=row.locked_until,
        last_failure=row.last_failure,
    )


def _forgotten(record: PairRecord, now: datetime) -> bool:
    return record.last_failure is not None and now - record.last_failure > FORGET_AFTER


@dataclass(frozen=True)
class Attempt:
    """The outcome of counting a login try: a wait, or leave to check the password."""

    wait_seconds: float | None = None
    # Set when this try's count locked the pair; the try itself goes on.
    locked_for: float | None = None


async def begin_attempt(
    session: AsyncSession, email: str, client: str, *, now: datetime
) -> Attempt:
    """Count a login try as a failure before its password is checked.

    Checking a password takes Argon2's time, so a burst of tries that all
    read the pair before any failure was written would each be checked.
    Each try is counted first, under the row lock. So at most
    `FAILURES_TO_LOCK` tries of a pair reach the check before the lock, and
    a good password then clears the pair.
    """
    key = pair_key(email, client)
    async with session.begin():
        row = await repository.load_for_update(session, key, now=now)
        record = _from_row(row)
        wait = wait_seconds(record, now)
        if wait is not None:
            return Attempt(wait_seconds=wait)
        record, locked_for = after_failure(record, now)
        await repository.save(
            session,
            key,
            failures=list(record.failures),
            locks=record.locks,
            locked_until=record.locked_until,
            last_failure=record.last_failure,
        )
        await repository.forget_idle(session, before=now - FORGET_AFTER)
    return Attempt(locked_for=locked_for)


async def clear(session: AsyncSession, email: str, client: str) -> None:
    """Clear the pair's failures and lockouts after a good password."""
    async with session.begin():
        await repository.delete_pair(session, pair_key(email, client))
