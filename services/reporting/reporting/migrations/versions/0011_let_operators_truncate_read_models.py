"""let the operator role empty the read models for a rebuild

`campo-reporting rebuild` reads and writes every tenant's rows, so it runs
as campo_operator and is audited. Emptying the read models and the export
details takes TRUNCATE, which the schema's grants leave out.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-05 09:30:00
"""

from collections.abc import Sequence

from alembic import op

from shared.rls import OPERATOR_ROLE

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

READ_MODELS = (
    "reporting.visit_facts, reporting.campaigns, reporting.accounts, "
    "reporting.visit_details"
)


def upgrade() -> None:
    op.execute(f"GRANT TRUNCATE ON {READ_MODELS} TO {OPERATOR_ROLE}")


def downgrade() -> None:
    op.execute(f"REVOKE TRUNCATE ON {READ_MODELS} FROM {OPERATOR_ROLE}")
