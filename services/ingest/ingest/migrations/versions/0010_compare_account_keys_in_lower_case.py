"""one account per tenant and key compared in lower case

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-04 18:50:00
"""

from collections.abc import Sequence

from alembic import op
from sqlalchemy import text

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SCHEMA = "ingest"
INDEX = "uq_accounts_tenant_id_lower_account_key"
EXACT_INDEX = "ix_accounts_tenant_id_account_key"


def upgrade() -> None:
    clashes = (
        op.get_bind()
        .execute(
            text(
                "SELECT count(*) FROM (SELECT 1 FROM ingest.accounts "
                "GROUP BY tenant_id, lower(account_key) HAVING count(*) > 1) c"
            )
        )
        .scalar_one()
    )
    if clashes:
        raise RuntimeError(
            f"{clashes} account keys exist in two spellings that differ only in "
            "case (such as Z1 and z1) for the same tenant; merge or rename those "
            "accounts, then run the migration again. List them with: SELECT "
            "tenant_id, lower(account_key), array_agg(account_key) FROM "
            "ingest.accounts GROUP BY 1, 2 HAVING count(*) > 1"
        )
    op.create_index(
        INDEX,
        "accounts",
        ["tenant_id", text("lower(account_key)")],
        unique=True,
        schema=SCHEMA,
    )
    # The lower-case index is the one unique key the upsert's ON CONFLICT
    # names. A second unique index on the exact key would make two
    # concurrent uploads of the same new key fail on it instead of
    # updating, so it becomes a plain index for exact lookups.
    op.drop_constraint(
        "uq_accounts_tenant_id_account_key", "accounts", schema=SCHEMA, type_="unique"
    )
    op.create_index(
        EXACT_INDEX, "accounts", ["tenant_id", "account_key"], schema=SCHEMA
    )


def downgrade() -> None:
    op.drop_index(EXACT_INDEX, "accounts", schema=SCHEMA)
    op.create_unique_constraint(
        "uq_accounts_tenant_id_account_key",
        "accounts",
        ["tenant_id", "account_key"],
        schema=SCHEMA,
    )
    op.drop_index(INDEX, "accounts", schema=SCHEMA)
