"""narrow the tables of agents' work to the agent's own rows

An agent's request runs in the platform scope and names the agent in
`campo.agent_id`; these restrictive policies then hide other agents' visits,
check-ins, results, photos, releases and earnings, behind the queries' own
agent filter. Tenant and platform scopes leave the setting empty and see
what they saw before.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-05 09:00:00
"""

from collections.abc import Sequence

from shared.rls import disable_agent_policies, enable_agent_policies

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SCHEMA = "visits"
AGENT_TABLES = ("assignment_releases", "check_ins", "photos", "results", "visits")
# The earnings ledger is the platform's (no tenant policy); agents read theirs.
PLATFORM_TABLES = ("agent_earnings",)


def upgrade() -> None:
    enable_agent_policies(SCHEMA, AGENT_TABLES, platform_tables=PLATFORM_TABLES)


def downgrade() -> None:
    disable_agent_policies(SCHEMA, AGENT_TABLES, platform_tables=PLATFORM_TABLES)
