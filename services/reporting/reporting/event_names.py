"""Names of the events that reporting streams and sends as webhooks.

A name is the CloudEvents type without its `campo.` prefix.
"""

CLOUD_EVENT_PREFIX = "campo."

WEBHOOK_EVENT_TYPES = (
    "visit.assigned",
    "visit.checked_in",
    "visit.completed",
    "visit.out_of_coverage",
    "visit.cancelled",
    "promise.made",
    "promise.kept",
    "promise.partly_kept",
    "promise.broken",
    "visit.rejected",
    "visit.appealed",
    "visit.appeal_resolved",
    "contact_data.updated",
)
# Raised by reporting itself when it stops sending to a failing endpoint.
WEBHOOK_DISABLED = "webhook.disabled"
# A released visit waits for another agent. It is streamed but not offered
# to webhooks yet: subscribers learn of the next agent from visit.assigned.
STREAM_EVENT_TYPES = (
    *WEBHOOK_EVENT_TYPES,
    "visit.expired",
    "campaign.launched",
    "visit.released",
    WEBHOOK_DISABLED,
)


def short_name(cloud_event_type: str) -> str:
    return cloud_event_type.removeprefix(CLOUD_EVENT_PREFIX)
