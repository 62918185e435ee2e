"""split the account's flag note into one note per flag and one for the recall

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-04 16:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SCHEMA = "ingest"
NOTES = ("do_not_visit_note", "do_not_contact_note", "recall_note")


def upgrade() -> None:
    for name in NOTES:
        op.add_column("accounts", sa.Column(name, sa.Text()), schema=SCHEMA)
    # The old note was written by whichever of the three came last; keep it
    # on the most recent-looking owner: the recall, else do-not-contact,
    # else do-not-visit.
    op.execute(
        """
        UPDATE ingest.accounts SET
            recall_note = CASE WHEN recalled_at IS NOT NULL THEN flag_note END,
            do_not_contact_note = CASE
                WHEN recalled_at IS NULL AND do_not_contact_reason IS NOT NULL
                THEN flag_note END,
            do_not_visit_note = CASE
                WHEN recalled_at IS NULL AND do_not_contact_reason IS NULL
                    AND do_not_visit_reason IS NOT NULL
                THEN flag_note END
        WHERE flag_note IS NOT NULL
        """
    )
    op.drop_column("accounts", "flag_note", schema=SCHEMA)


def downgrade() -> None:
    op.add_column("accounts", sa.Column("flag_note", sa.Text()), schema=SCHEMA)
    op.execute(
        "UPDATE ingest.accounts SET flag_note = "
        "COALESCE(recall_note, do_not_contact_note, do_not_visit_note)"
    )
    for name in NOTES:
        op.drop_column("accounts", name, schema=SCHEMA)
