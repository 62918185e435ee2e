"""narrow offers and assignments to the agent's own rows

An agent's request runs in the platform scope and names the agent in
`campo.agent_id`; these restrictive policies then hide the offers made to
other agents and their assignments, behind the queries' own agent filter.
Tenant and platform scopes leave the setting empty and see what they saw
before.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-05 09:00:00
"""

from collections.abc import Sequence

from shared.rls import disable_agent_policies, enable_agent_policies

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SCHEMA = "matching"
AGENT_TABLES = ("assignments", "offers")


def upgrade() -> None:
    enable_agent_policies(SCHEMA, AGENT_TABLES)


def downgrade() -> None:
    disable_agent_policies(SCHEMA, AGENT_TABLES)
