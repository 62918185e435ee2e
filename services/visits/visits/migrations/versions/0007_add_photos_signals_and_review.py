"""add photo evidence, fraud signals on results, and director review

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-04 23:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "photos",
        sa.Column("photo_id", sa.UUID(), nullable=False),
        sa.Column("visit_id", sa.UUID(), nullable=False),
        sa.Column("tenant_id", sa.UUID(), nullable=False),
        sa.Column("agent_id", sa.UUID(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("content_type", sa.String(length=30), nullable=False),
        sa.Column("size_bytes", sa.Integer(), nullable=False),
        sa.Column("width", sa.Integer(), nullable=True),
        sa.Column("height", sa.Integer(), nullable=True),
        sa.Column("taken_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("exif_lat", sa.Float(), nullable=True),
        sa.Column("exif_lon", sa.Float(), nullable=True),
        sa.Column("result_id", sa.UUID(), nullable=True),
        sa.Column("uploaded_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["visit_id"], ["visits.visits.visit_id"], ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("photo_id"),
        sa.UniqueConstraint("visit_id", "sha256"),
        schema="visits",
    )
    op.create_index(
        "ix_photos_sha256", "photos", ["sha256"], unique=False, schema="visits"
    )
    op.add_column(
        "results",
        sa.Column("fraud_score", sa.Float(), nullable=True),
        schema="visits",
    )
    op.add_column(
        "results",
        sa.Column("flagged", sa.Boolean(), nullable=True),
        schema="visits",
    )
    op.add_column(
        "results",
        sa.Column("signals", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        schema="visits",
    )
    op.create_index(
        "ix_check_ins_agent_id_device_time",
        "check_ins",
        ["agent_id", "device_time"],
        unique=False,
        schema="visits",
    )
    op.create_table(
        "reviews",
        sa.Column("visit_id", sa.UUID(), nullable=False),
        sa.Column("tenant_id", sa.UUID(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("rejected_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("appeal_text", sa.Text(), nullable=True),
        sa.Column("appealed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("resolution_note", sa.Text(), nullable=True),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "status IN ('rejected', 'appealed', 'upheld', 'overturned')",
            name="status",
        ),
        sa.ForeignKeyConstraint(
            ["visit_id"], ["visits.visits.visit_id"], ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("visit_id"),
        schema="visits",
    )


def downgrade() -> None:
    op.drop_table("reviews", schema="visits")
    op.drop_index(
        "ix_check_ins_agent_id_device_time", table_name="check_ins", schema="visits"
    )
    op.drop_column("results", "signals", schema="visits")
    op.drop_column("results", "flagged", schema="visits")
    op.drop_column("results", "fraud_score", schema="visits")
    op.drop_index("ix_photos_sha256", table_name="photos", schema="visits")
    op.drop_table("photos", schema="visits")
