"""add account location precision, source, status, time zone and geocode cache

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-04 16:05:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    for column in (
        sa.Column("location_precision", sa.String(length=20), nullable=True),
        sa.Column("location_source", sa.String(length=20), nullable=True),
        sa.Column(
            "location_status",
            sa.String(length=20),
            server_default="unplaced",
            nullable=False,
        ),
        sa.Column("time_zone", sa.String(length=64), nullable=True),
    ):
        op.add_column("accounts", column, schema="ingest")
    # Accounts stored before geocoding have coordinates only from their file.
    op.execute(
        "UPDATE ingest.accounts SET location_status = 'placed', "
        "location_precision = 'rooftop', location_source = 'file' "
        "WHERE location IS NOT NULL"
    )
    op.create_table(
        "geocode_cache",
        sa.Column("query_key", sa.Text(), nullable=False),
        sa.Column("provider", sa.String(length=20), nullable=False),
        sa.Column("found", sa.Boolean(), nullable=False),
        sa.Column("lat", sa.Float(), nullable=True),
        sa.Column("lon", sa.Float(), nullable=True),
        sa.Column("precision", sa.String(length=20), nullable=True),
        sa.Column(
            "fetched_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("query_key", "provider", name=op.f("pk_geocode_cache")),
        schema="ingest",
    )


def downgrade() -> None:
    op.drop_table("geocode_cache", schema="ingest")
    for name in (
        "time_zone",
        "location_status",
        "location_source",
        "location_precision",
    ):
        op.drop_column("accounts", name, schema="ingest")
