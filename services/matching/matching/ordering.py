"""The order in which dispatch tries a visit's candidates.

Dispatch calls only `order_candidates`, so a ranking that weighs more than
distance replaces this one function.
"""

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Row


def order_candidates(
    request: Row[Any], candidates: Sequence[Row[Any]], *, now: datetime
) -> list[Row[Any]]:
    """Return the candidates best first: nearest, then by agent id for ties.

    `request` is the locked visit request and each candidate carries
    `agent_id`, `daily_capacity` and `distance_m`; `now` is the dispatch time.
    """
    return sorted(candidates, key=lambda c: (c.distance_m, str(c.agent_id)))
