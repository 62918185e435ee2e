"""Legal visiting hours, as matching uses them.

The rules live in `shared.visiting_hours`, so that visits judges a
check-in with the same windows that matching uses to make an offer.
"""

from shared.visiting_hours import (
    MEXICO_WINDOW,
    MEXICO_ZONES,
    UNITED_STATES_WINDOW,
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
    "Window",
    "address_zones",
    "is_legal_arrival",
    "legal_window",
    "may_offer",
    "open_time_end",
]
