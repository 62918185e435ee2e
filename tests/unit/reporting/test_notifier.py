"""Waiting for a wake-up event without losing a cancellation."""

import asyncio

import pytest

from reporting.notifier import wait_for


async def test_cancelled_as_the_event_is_set_stays_cancelled() -> None:
    event = asyncio.Event()
    waiting = asyncio.create_task(wait_for(event, 10))
    await asyncio.sleep(0)
    # Both in one step of the loop, as when a commit and the shutdown meet.
    event.set()
    waiting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiting


async def test_returns_after_the_timeout() -> None:
    await asyncio.wait_for(wait_for(asyncio.Event(), 0.01), 5)


async def test_returns_when_the_event_is_set() -> None:
    event = asyncio.Event()
    event.set()
    await asyncio.wait_for(wait_for(event, 60), 5)
