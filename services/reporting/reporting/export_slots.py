"""How many campaign exports may run at once, per tenant and in the process.

Each running export keeps a database connection and a server-side cursor
open while its client reads, so an unbounded number of them would empty
the pool that the figures and the consumer need. A download past either
limit is rejected before it starts, with a 429 that names the limit and
when to retry.
"""

import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import cast

from reporting.settings import ReportingSettings
from shared.errors import TooManyRequestsError
from shared.runtime import ServiceRuntime

SLOTS_KEY = "export_slots"
# A large export takes tens of seconds; asking again sooner would only
# be refused again.
RETRY_AFTER_SECONDS = "30"


@dataclass
class ExportSlots:
    per_tenant: int
    total: int
    running: Counter[uuid.UUID] = field(default_factory=Counter)

    def take(self, tenant_id: uuid.UUID) -> Callable[[], None]:
        """Count a new export for the tenant; return the call that ends it.

        Raises TooManyRequestsError when the tenant or the process is at its
        limit. The returned call may be made more than once.
        """
        if self.running[tenant_id] >= self.per_tenant:
            raise TooManyRequestsError(
                f"{self.per_tenant} exports of this tenant are already running;"
                " wait for one to finish, then ask again",
                retry_after=RETRY_AFTER_SECONDS,
                limit=self.per_tenant,
            )
        if sum(self.running.values()) >= self.total:
            raise TooManyRequestsError(
                f"the service is already writing {self.total} exports;"
                " ask again in a moment",
                retry_after=RETRY_AFTER_SECONDS,
                limit=self.total,
            )
        self.running[tenant_id] += 1
        ended = False

        def end() -> None:
            nonlocal ended
            if not ended:
                ended = True
                self.running[tenant_id] -= 1
                if self.running[tenant_id] <= 0:
                    del self.running[tenant_id]

        return end


def export_slots(runtime: ServiceRuntime) -> ExportSlots:
    """Return the process's export counter, made on first use from the settings."""
    slots = runtime.state.get(SLOTS_KEY)
    if slots is None:
        settings = cast(ReportingSettings, runtime.settings)
        slots = ExportSlots(
            per_tenant=settings.export_max_per_tenant,
            total=settings.export_max_running,
        )
        runtime.state[SLOTS_KEY] = slots
    return slots
