"""add staff-first and travel limits to requests, the load day to assignments

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-04 23:00:00

Requests stored before this revision have no staff-first time and no travel
limit of their own: everyone may take them, within the global limit.
Assignments made before have no load day; their capacity is given back on
the UTC day they were assigned, as it was taken.

The working-hours function is rewritten without its day series: each window
has at most two weekly occurrences in the ten local days it looked at, so it
computes them directly and gives the same answers for less work. The
candidate search no longer calls it: it runs the same rule as an EXISTS the
planner can inline (`repository.agents.works_between`).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SCHEMA = "matching"

# The first local day on or after the day before `from_` that falls on the
# window's weekday, and the same weekday a week later: the only days of that
# weekday from the day before `from_` to eight days on. Both are kept when not
# past `until`'s local day (capped at eight days), as the series kept them.
WORKS_BETWEEN = """
CREATE OR REPLACE FUNCTION matching.agent_works_between(
    agent uuid, zone text, from_ timestamptz, until timestamptz
) RETURNS boolean
LANGUAGE sql STABLE AS $$
    SELECT EXISTS (
        SELECT 1
        FROM matching.agent_working_hours AS w
        CROSS JOIN LATERAL (
            SELECT ((from_ AT TIME ZONE zone)::date - 1)::timestamp AS day
        ) AS eve
        CROSS JOIN LATERAL (
            VALUES (0), (7)
        ) AS later(days)
        CROSS JOIN LATERAL (
            SELECT eve.day + make_interval(days => later.days
                + ((w.weekday - extract(isodow FROM eve.day)::int + 7) % 7)) AS day
        ) AS d
        WHERE w.agent_id = agent
          AND d.day <= (LEAST(until, from_ + interval '8 days') AT TIME ZONE zone)
                           ::date::timestamp
          AND ((d.day + w.start_time) AT TIME ZONE zone) < until
          AND ((d.day + w.end_time
                + CASE WHEN w.end_time <= w.start_time
                       THEN interval '1 day' ELSE interval '0' END)
               AT TIME ZONE zone) > from_
    )
$$
"""

# The body of revision 0004, restored on downgrade.
WORKS_BETWEEN_0004 = """
CREATE OR REPLACE FUNCTION matching.agent_works_between(
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
        "visit_requests",
        sa.Column("marketplace_from", sa.DateTime(timezone=True), nullable=True),
        schema=SCHEMA,
    )
    op.add_column(
        "visit_requests",
        sa.Column("max_travel_minutes", sa.Integer(), nullable=True),
        schema=SCHEMA,
    )
    op.add_column(
        "assignments", sa.Column("load_day", sa.Date(), nullable=True), schema=SCHEMA
    )
    op.execute(WORKS_BETWEEN)


def downgrade() -> None:
    op.execute(WORKS_BETWEEN_0004)
    op.drop_column("assignments", "load_day", schema=SCHEMA)
    op.drop_column("visit_requests", "max_travel_minutes", schema=SCHEMA)
    op.drop_column("visit_requests", "marketplace_from", schema=SCHEMA)
