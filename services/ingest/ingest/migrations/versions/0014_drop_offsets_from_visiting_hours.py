"""drop UTC offsets from the visiting hours stored in campaigns' dispatch

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-05 03:00:00

Visiting hours are local to each address, and a time with a UTC offset is
now rejected. Campaigns created before that may hold `09:00:00-06:00` in
`dispatch.visiting_hours`, which would fail to load when a revisit or a
relaunch builds the visit request. The offset was already ignored where the
hours were compared, so dropping it keeps the wall-clock time the campaign
worked with. Matching and visits keep their copies in `time` columns, which
cannot hold an offset.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SCHEMA = "ingest"
# A time as pydantic writes it: HH:MM[:SS[.ffffff]], then Z or +HH[:MM].
OFFSET = r"(Z|[+-][0-9]{2}(:?[0-9]{2})?)$"
WALL_CLOCK = r"^[0-9:.]+"


def _local(bound: str) -> str:
    path = f"'{{visiting_hours,{bound}}}'"
    return (
        f"CASE WHEN dispatch #>> {path} ~ :offset "
        f"THEN to_jsonb(substring(dispatch #>> {path} from :wall_clock)) "
        # jsonb_set with a SQL null would null the whole dispatch.
        f"ELSE COALESCE(dispatch #> {path}, CAST('null' AS jsonb)) END"
    )


def upgrade() -> None:
    op.get_bind().execute(
        sa.text(
            f"UPDATE {SCHEMA}.campaigns SET dispatch = jsonb_set("
            "jsonb_set(dispatch, '{visiting_hours,start}', "
            f"{_local('start')}), '{{visiting_hours,end}}', {_local('end')}) "
            "WHERE jsonb_typeof(dispatch -> 'visiting_hours') = 'object' "
            "AND (dispatch #>> '{visiting_hours,start}' ~ :offset "
            "OR dispatch #>> '{visiting_hours,end}' ~ :offset)"
        ),
        {"offset": OFFSET, "wall_clock": WALL_CLOCK},
    )


def downgrade() -> None:
    # The offsets were never used, so there is nothing to restore.
    pass
