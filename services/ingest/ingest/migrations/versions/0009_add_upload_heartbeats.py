"""record which process runs each background upload, and when it last said so

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-04 18:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SCHEMA = "ingest"


def upgrade() -> None:
    op.add_column(
        "uploads",
        sa.Column("worker_id", postgresql.UUID(as_uuid=True)),
        schema=SCHEMA,
    )
    op.add_column(
        "uploads",
        sa.Column("heartbeat_at", sa.DateTime(timezone=True)),
        schema=SCHEMA,
    )
    # Jobs left running before this revision have no heartbeat; their
    # creation time stands in, so the first sweep fails them.
    op.execute(
        "UPDATE ingest.uploads SET heartbeat_at = created_at "
        "WHERE status IN ('queued', 'processing')"
    )
    op.create_index(
        "ix_uploads_running_heartbeat_at",
        "uploads",
        ["heartbeat_at"],
        schema=SCHEMA,
        postgresql_where=sa.text("status IN ('queued', 'processing')"),
    )


def downgrade() -> None:
    op.drop_index("ix_uploads_running_heartbeat_at", "uploads", schema=SCHEMA)
    op.drop_column("uploads", "heartbeat_at", schema=SCHEMA)
    op.drop_column("uploads", "worker_id", schema=SCHEMA)
