"""All of matching's SQL. Functions run in the caller's transaction."""

from matching.repository.agents import (
    assigned_on,
    covering_agent_exists,
    find_candidates,
    get_agent,
    insert_agent,
    nearest_agent_distance,
    release_capacity,
    reserve_capacity,
)
from matching.repository.assignments import (
    finish_assignment,
    get_visit_assignment,
    insert_accepted_offer,
    insert_active_assignment,
    list_agent_assignments,
    release_assignment,
    withdraw_open_offers,
)
from matching.repository.requests import (
    cancel_request,
    insert_visit_request,
    lock_pending_request,
    pending_requests,
    request_state,
    transition_request,
)

__all__ = [
    "assigned_on",
    "cancel_request",
    "covering_agent_exists",
    "find_candidates",
    "finish_assignment",
    "get_agent",
    "get_visit_assignment",
    "insert_accepted_offer",
    "insert_active_assignment",
    "insert_agent",
    "insert_visit_request",
    "list_agent_assignments",
    "lock_pending_request",
    "nearest_agent_distance",
    "pending_requests",
    "release_assignment",
    "release_capacity",
    "request_state",
    "reserve_capacity",
    "transition_request",
    "withdraw_open_offers",
]
