"""In-process wake-ups after a consumer commit, for the live stream and webhooks."""

import asyncio
from collections.abc import Callable

from shared.runtime import ServiceRuntime

STATE_KEY = "reporting.commit_notifier"


class CommitNotifier:
    """Wake every waiter when the consumer commits new stream events or messages.

    A waiter takes `current()` before it reads the database and then waits on
    that event, so a commit that lands between its read and its wait still
    wakes it: `notify` sets the old event and installs a fresh one.
    """

    def __init__(self) -> None:
        self._event = asyncio.Event()
        self._listeners: list[Callable[[], None]] = []
        # True while a LISTEN connection relays other instances' commits too.
        self.listening = False

    def current(self) -> asyncio.Event:
        return self._event

    def add_listener(self, listener: Callable[[], None]) -> None:
        self._listeners.append(listener)

    def remove_listener(self, listener: Callable[[], None]) -> None:
        if listener in self._listeners:
            self._listeners.remove(listener)

    def notify(self) -> None:
        """Wake the waiters after a local commit, unless LISTEN will.

        While listening, every commit that wrote rows worth waking for also
        sent a NOTIFY, which arrives through `wake`. A second wake-up here
        would double the reads of every stream and of the worker.
        """
        if not self.listening:
            self.wake()

    def wake(self) -> None:
        event, self._event = self._event, asyncio.Event()
        event.set()
        for listener in list(self._listeners):
            listener()


def commit_notifier(runtime: ServiceRuntime) -> CommitNotifier:
    """Return the runtime's notifier, creating it on first use."""
    notifier = runtime.state.get(STATE_KEY)
    if notifier is None:
        notifier = CommitNotifier()
        runtime.state[STATE_KEY] = notifier
    return notifier


async def wait_for(event: asyncio.Event, timeout_seconds: float) -> None:
    """Wait until `event` is set or the timeout passes, whichever comes first.

    Not `asyncio.wait_for`: on Python 3.11 it returns normally when the task
    is cancelled just as the event is set, so a worker woken often (the
    delivery worker is) can miss its shutdown and run on forever.
    """
    try:
        async with asyncio.timeout(timeout_seconds):
            await event.wait()
    except TimeoutError:
        pass
