"""grant personal:read to the API keys that read debtors' data

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-05 05:45:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SCHEMA = "ingest"
# Before personal:read, every key that read accounts, campaigns or results
# saw debtors' names and phones in full; such keys keep doing so.
GRANT = f"""
UPDATE {SCHEMA}.api_keys
SET scopes = array_append(scopes, 'personal:read')
WHERE scopes && ARRAY['accounts:read', 'campaigns:read', 'results:read']::text[]
  AND NOT scopes @> ARRAY['personal:read']::text[]
"""


def upgrade() -> None:
    op.execute(GRANT)


def downgrade() -> None:
    op.execute(
        f"UPDATE {SCHEMA}.api_keys SET scopes = array_remove(scopes, 'personal:read')"
    )
