"""Legal visiting hours, as matching uses them.

The rules live in `shared.visiting_hours`, so that visits judges a
check-in with the same windows that matching uses to make an offer.
"""

from collections.abc import Sequence
from datetime import time

from shared.visiting_hours import (
    MEXICO_WINDOW,
    MEXICO_ZONES,
    UNITED_STATES_WINDOW,
    Weekday,
    Window,
    address_zones,
    is_legal_arrival,
    legal_window,
    may_offer,
    open_time_end,
)

__all__ = [
    "MEXICO_WINDOW",
    "MEXICO_ZONES",
    "UNITED_STATES_WINDOW",
    "Weekday",
    "Window",
    "address_zones",
    "campaign_days",
    "campaign_window",
    "is_legal_arrival",
    "legal_window",
    "may_offer",
    "open_time_end",
]


def campaign_window(start: time | None, end: time | None) -> Window | None:
    """Return a campaign's own visiting hours as stored, or None without them."""
    if start is None or end is None:
        return None
    return Window(start, end)


def campaign_days(days: Sequence[str] | None) -> frozenset[Weekday] | None:
    """Return the weekdays a campaign allows visits on, or None for every day."""
    if days is None:
        return None
    return frozenset(Weekday(day) for day in days)
