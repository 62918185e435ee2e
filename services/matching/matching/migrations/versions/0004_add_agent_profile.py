"""add the agent's working hours, time zone, coverage area and last location

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-04 22:00:00

Agents registered before have no time zone, which means no schedule: they
work any time, as before.
"""

from collections.abc import Sequence

import geoalchemy2
import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SCHEMA = "matching"

# True when the agent works at `from_` or starts a window before `until`.
# Windows whose end is not after their start end on the next local day.
# Local days run from the day before `from_` (an overnight window may still
# run) to `until`'s, at most eight days on, which covers a whole week. The
# days are plain timestamps, so that `d.day + start_time` is a local time and
# not a time in the session's zone.
# NOTE: the function is not inlined, so it runs once per agent in range. With
# table statistics it uses the primary key; before agent_working_hours is
# first analyzed it was seen to scan the table on each call instead.
WORKS_BETWEEN = """
CREATE FUNCTION matching.agent_works_between(
    agent uuid, zone text, from_ timestamptz, until timestamptz
) RETURNS boolean
LANGUAGE sql STABLE AS $$
    SELECT EXISTS (
        SELECT 1
        FROM matching.agent_working_hours AS w,
             generate_series(
                 ((from_ AT TIME ZONE zone)::date - 1)::timestamp,
                 (LEAST(until, from_ + interval '8 days') AT TIME ZONE zone)::date
                     ::timestamp,
                 interval '1 day'
             ) AS d(day)
        WHERE w.agent_id = agent
          AND w.weekday = extract(isodow FROM d.day)
          AND ((d.day + w.start_time) AT TIME ZONE zone) < until
          AND ((d.day + w.end_time
                + CASE WHEN w.end_time <= w.start_time
                       THEN interval '1 day' ELSE interval '0' END)
               AT TIME ZONE zone) > from_
    )
$$
"""


def upgrade() -> None:
    op.add_column(
        "agents",
        sa.Column(
            "coverage_area",
            geoalchemy2.Geography(
                geometry_type="GEOMETRY", srid=4326, spatial_index=False
            ),
        ),
        schema=SCHEMA,
    )
    op.add_column("agents", sa.Column("time_zone", sa.String(length=64)), schema=SCHEMA)
    op.add_column(
        "agents",
        sa.Column(
            "last_location",
            geoalchemy2.Geography(
                geometry_type="POINT", srid=4326, spatial_index=False
            ),
        ),
        schema=SCHEMA,
    )
    op.add_column(
        "agents", sa.Column("last_location_accuracy_m", sa.Float()), schema=SCHEMA
    )
    for name in ("last_location_at", "last_location_received_at"):
        op.add_column(
            "agents", sa.Column(name, sa.DateTime(timezone=True)), schema=SCHEMA
        )
    op.create_table(
        "agent_working_hours",
        sa.Column(
            "agent_id",
            sa.UUID(),
            sa.ForeignKey(
                f"{SCHEMA}.agents.agent_id",
                ondelete="CASCADE",
                name=op.f("fk_agent_working_hours_agent_id_agents"),
            ),
            nullable=False,
        ),
        sa.Column("weekday", sa.SmallInteger(), nullable=False),
        sa.Column("start_time", sa.Time(), nullable=False),
        sa.Column("end_time", sa.Time(), nullable=False),
        sa.CheckConstraint(
            "weekday BETWEEN 1 AND 7", name=op.f("ck_agent_working_hours_weekday")
        ),
        sa.CheckConstraint(
            "start_time <> end_time", name=op.f("ck_agent_working_hours_window")
        ),
        sa.PrimaryKeyConstraint(
            "agent_id", "weekday", "start_time", name=op.f("pk_agent_working_hours")
        ),
        schema=SCHEMA,
    )
    op.execute(WORKS_BETWEEN)


def downgrade() -> None:
    op.execute(
        "DROP FUNCTION matching.agent_works_between"
        "(uuid, text, timestamptz, timestamptz)"
    )
    op.drop_table("agent_working_hours", schema=SCHEMA)
    for name in (
        "last_location_received_at",
        "last_location_at",
        "last_location_accuracy_m",
        "last_location",
        "time_zone",
        "coverage_area",
    ):
        op.drop_column("agents", name, schema=SCHEMA)
