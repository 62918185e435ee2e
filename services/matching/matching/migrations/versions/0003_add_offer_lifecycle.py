"""add the offer lifecycle: dispatch policy, offer expiry and decline reasons

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-04 21:00:00

Requests stored before dispatch modes were assigned with no acceptance step
and waited until their deadline, so they get assign mode and no wait limit.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SCHEMA = "matching"
REQUEST_STATES = "'pending', 'offered', 'assigned', 'unmatched', 'done', 'cancelled'"
OLD_REQUEST_STATES = "'pending', 'assigned', 'unmatched', 'done', 'cancelled'"
DECLINE_REASONS = "'too_far', 'no_time', 'unsafe_area', 'fee_too_low', 'other'"


def upgrade() -> None:
    op.add_column(
        "visit_requests",
        sa.Column(
            "dispatch_mode",
            sa.String(length=20),
            server_default="assign",
            nullable=False,
        ),
        schema=SCHEMA,
    )
    for name in ("offer_timeout_seconds", "broadcast_size"):
        op.add_column(
            "visit_requests",
            sa.Column(name, sa.Integer(), nullable=True),
            schema=SCHEMA,
        )
    op.add_column(
        "visit_requests",
        sa.Column("wait_until", sa.DateTime(timezone=True), nullable=True),
        schema=SCHEMA,
    )
    op.drop_constraint(
        op.f("ck_visit_requests_state"),
        "visit_requests",
        type_="check",
        schema=SCHEMA,
    )
    op.create_check_constraint(
        op.f("ck_visit_requests_state"),
        "visit_requests",
        f"state IN ({REQUEST_STATES})",
        schema=SCHEMA,
    )
    op.create_check_constraint(
        op.f("ck_visit_requests_dispatch_mode"),
        "visit_requests",
        "dispatch_mode IN ('offer', 'broadcast', 'assign')",
        schema=SCHEMA,
    )
    op.create_index(
        "ix_visit_requests_waiting",
        "visit_requests",
        ["deadline", "visit_id"],
        unique=False,
        schema=SCHEMA,
        postgresql_where=sa.text("state IN ('pending', 'offered')"),
    )

    op.add_column(
        "offers",
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        schema=SCHEMA,
    )
    op.add_column(
        "offers",
        sa.Column("decline_reason", sa.String(length=20), nullable=True),
        schema=SCHEMA,
    )
    op.add_column(
        "offers",
        sa.Column("decline_note", sa.String(length=500), nullable=True),
        schema=SCHEMA,
    )
    op.create_check_constraint(
        op.f("ck_offers_decline_reason"),
        "offers",
        f"decline_reason IS NULL OR decline_reason IN ({DECLINE_REASONS})",
        schema=SCHEMA,
    )
    op.create_index(
        "uq_offers_open_visit_agent",
        "offers",
        ["visit_id", "agent_id"],
        unique=True,
        schema=SCHEMA,
        postgresql_where=sa.text("state = 'offered'"),
    )
    op.create_index(
        "ix_offers_open_expires_at",
        "offers",
        ["expires_at"],
        unique=False,
        schema=SCHEMA,
        postgresql_where=sa.text("state = 'offered'"),
    )


def downgrade() -> None:
    op.drop_index("ix_offers_open_expires_at", table_name="offers", schema=SCHEMA)
    op.drop_index("uq_offers_open_visit_agent", table_name="offers", schema=SCHEMA)
    op.drop_constraint(
        op.f("ck_offers_decline_reason"), "offers", type_="check", schema=SCHEMA
    )
    for name in ("decline_note", "decline_reason", "expires_at"):
        op.drop_column("offers", name, schema=SCHEMA)
    op.drop_index(
        "ix_visit_requests_waiting", table_name="visit_requests", schema=SCHEMA
    )
    op.drop_constraint(
        op.f("ck_visit_requests_dispatch_mode"),
        "visit_requests",
        type_="check",
        schema=SCHEMA,
    )
    # Requests waiting for an answer go back to waiting for a candidate.
    op.execute(
        sa.text(
            f"UPDATE {SCHEMA}.visit_requests SET state = 'pending' "
            "WHERE state = 'offered'"
        )
    )
    op.drop_constraint(
        op.f("ck_visit_requests_state"),
        "visit_requests",
        type_="check",
        schema=SCHEMA,
    )
    op.create_check_constraint(
        op.f("ck_visit_requests_state"),
        "visit_requests",
        f"state IN ({OLD_REQUEST_STATES})",
        schema=SCHEMA,
    )
    for name in ("wait_until", "broadcast_size", "offer_timeout_seconds"):
        op.drop_column("visit_requests", name, schema=SCHEMA)
    op.drop_column("visit_requests", "dispatch_mode", schema=SCHEMA)
