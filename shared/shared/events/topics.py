"""Kafka topic names, by stream and version. Keys are aggregate ids."""

TENANTS = "tenants.v1"
ACCOUNTS = "accounts.v1"
CAMPAIGNS = "campaigns.v1"
VISIT_REQUESTS = "visit-requests.v1"
ASSIGNMENTS = "assignments.v1"
VISITS = "visits.v1"
PAYMENTS = "payments.v1"
# Who read which debtor's personal data; reporting keeps the log.
AUDIT = "audit.v1"

ALL_TOPICS = (
    TENANTS,
    ACCOUNTS,
    CAMPAIGNS,
    VISIT_REQUESTS,
    ASSIGNMENTS,
    VISITS,
    PAYMENTS,
    AUDIT,
)

DEAD_LETTER_SUFFIX = ".dlt"


def dead_letter_topic(topic: str) -> str:
    return topic + DEAD_LETTER_SUFFIX
