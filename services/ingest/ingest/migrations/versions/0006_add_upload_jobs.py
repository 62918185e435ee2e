"""add upload jobs: progress, error policy, original cells of reported rows

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-04 16:20:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SCHEMA = "ingest"


def upgrade() -> None:
    op.add_column(
        "uploads",
        sa.Column(
            "on_error", sa.String(20), server_default="store_valid", nullable=False
        ),
        schema=SCHEMA,
    )
    op.add_column(
        "uploads",
        sa.Column("rows_read", sa.Integer(), server_default="0", nullable=False),
        schema=SCHEMA,
    )
    op.add_column(
        "uploads",
        sa.Column("progress_percent", sa.Integer(), server_default="0", nullable=False),
        schema=SCHEMA,
    )
    op.add_column("uploads", sa.Column("failure_message", sa.Text()), schema=SCHEMA)
    op.add_column("uploads", sa.Column("headers", postgresql.JSONB()), schema=SCHEMA)
    op.create_index(
        "ix_uploads_tenant_id_created_at",
        "uploads",
        ["tenant_id", "created_at"],
        schema=SCHEMA,
    )
    op.create_table(
        "upload_row_cells",
        sa.Column("upload_id", sa.UUID(), nullable=False),
        sa.Column("row_number", sa.Integer(), nullable=False),
        sa.Column("tenant_id", sa.UUID(), nullable=False),
        sa.Column("cells", postgresql.JSONB(), nullable=False),
        sa.ForeignKeyConstraint(
            ["upload_id"],
            [f"{SCHEMA}.uploads.upload_id"],
            name=op.f("fk_upload_row_cells_upload_id_uploads"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "upload_id", "row_number", name=op.f("pk_upload_row_cells")
        ),
        schema=SCHEMA,
    )
    op.create_table(
        "upload_settings",
        sa.Column("tenant_id", sa.UUID(), nullable=False),
        sa.Column("on_error", sa.String(20), nullable=False),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("tenant_id", name=op.f("pk_upload_settings")),
        schema=SCHEMA,
    )


def downgrade() -> None:
    op.drop_table("upload_settings", schema=SCHEMA)
    op.drop_table("upload_row_cells", schema=SCHEMA)
    op.drop_index("ix_uploads_tenant_id_created_at", "uploads", schema=SCHEMA)
    for column in ("headers", "failure_message", "progress_percent", "rows_read"):
        op.drop_column("uploads", column, schema=SCHEMA)
    op.drop_column("uploads", "on_error", schema=SCHEMA)
