"""drop UTC offsets from the best times stored in results' contact updates

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-05 03:00:00

A best time to find the debtor is local to the address, and a time with a
UTC offset is now rejected. Results filed before that may hold
`09:00:00-06:00` in `contact_update.best_times`, which would fail to load
when the tenant reads the visit. Dropping the offset keeps the wall-clock
time the agent heard at the door. The campaign's visiting hours of each
visit are in `time` columns, which cannot hold an offset.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SCHEMA = "visits"
# A time as pydantic writes it: HH:MM[:SS[.ffffff]], then Z or +HH[:MM].
OFFSET = r"(Z|[+-][0-9]{2}(:?[0-9]{2})?)$"
WALL_CLOCK = r"^[0-9:.]+"


def _local(bound: str) -> str:
    return (
        f"CASE WHEN t.item ->> '{bound}' ~ :offset "
        f"THEN to_jsonb(substring(t.item ->> '{bound}' from :wall_clock)) "
        f"ELSE t.item -> '{bound}' END"
    )


def upgrade() -> None:
    op.get_bind().execute(
        sa.text(
            f"UPDATE {SCHEMA}.results r SET contact_update = jsonb_set("
            "r.contact_update, '{best_times}', ("
            "SELECT jsonb_agg(t.item || jsonb_build_object("
            f"'start', {_local('start')}, 'end', {_local('end')}) "
            "ORDER BY t.position) "
            "FROM jsonb_array_elements(r.contact_update -> 'best_times') "
            "WITH ORDINALITY AS t(item, position))) "
            "WHERE jsonb_typeof(r.contact_update -> 'best_times') = 'array' "
            "AND EXISTS (SELECT 1 FROM "
            "jsonb_array_elements(r.contact_update -> 'best_times') AS e(item) "
            "WHERE e.item ->> 'start' ~ :offset OR e.item ->> 'end' ~ :offset)"
        ),
        {"offset": OFFSET, "wall_clock": WALL_CLOCK},
    )


def downgrade() -> None:
    # The offsets were never used, so there is nothing to restore.
    pass
