"""Migrations that drop UTC offsets from local times stored before they were refused.

Each test makes a database of its own, migrates it to the revision before
the fix, stores a row as the old code could, then migrates to the head.
"""

import asyncio
import json
import uuid
from collections.abc import Iterator
from typing import Any

import asyncpg
import pytest
from alembic.script import ScriptDirectory

from shared.events.payloads import ContactUpdate, DispatchPolicy
from shared.migrations import alembic_config, upgrade
from tests.conftest import (
    Infra,
    _create_database,
    _drop_database,
    _plain_dsn,
    _with_database,
)

OLD_HOURS = {"start": "09:00:00-06:00", "end": "18:30:00Z", "allowed_days": None}


def revision_before(package: str, file_suffix: str) -> str:
    """Return the revision a migration follows, found by its file name."""
    script = ScriptDirectory.from_config(alembic_config("", package))
    [found] = [
        revision
        for revision in script.walk_revisions()
        if revision.path.endswith(file_suffix)
    ]
    assert isinstance(found.down_revision, str)
    return found.down_revision


@pytest.fixture
def database_url(infra: Infra) -> Iterator[str]:
    name = f"campo_migration_{uuid.uuid4().hex[:10]}"
    asyncio.run(_create_database(infra.database_url, name))
    yield _with_database(infra.database_url, name)
    asyncio.run(_drop_database(infra.database_url, name))


def run(database_url: str, statement: str, *args: Any) -> list[asyncpg.Record]:
    async def query() -> list[asyncpg.Record]:
        connection = await asyncpg.connect(_plain_dsn(database_url))
        try:
            return list(await connection.fetch(statement, *args))
        finally:
            await connection.close()

    return asyncio.run(query())


def insert_campaign(database_url: str, dispatch: dict[str, Any]) -> uuid.UUID:
    campaign_id = uuid.uuid4()
    run(
        database_url,
        "INSERT INTO ingest.campaigns (campaign_id, tenant_id, name, status, "
        "objective, questions, max_discount_pct, fee_amount, fee_currency, "
        "deadline, selection, dispatch) VALUES ($1, $2, 'Old', 'launched', "
        "'Collect', '{}', 10, 120, 'MXN', now(), '{}', $3::jsonb)",
        campaign_id,
        uuid.uuid4(),
        json.dumps(dispatch),
    )
    return campaign_id


def dispatch_of(database_url: str, campaign_id: uuid.UUID) -> dict[str, Any]:
    [row] = run(
        database_url,
        "SELECT dispatch FROM ingest.campaigns WHERE campaign_id = $1",
        campaign_id,
    )
    loaded: dict[str, Any] = json.loads(row["dispatch"])
    return loaded


class TestCampaignVisitingHours:
    def test_offset_dropped_wall_clock_kept(self, database_url: str) -> None:
        upgrade(
            database_url,
            "ingest",
            revision_before("ingest", "_drop_offsets_from_visiting_hours.py"),
        )
        old = insert_campaign(
            database_url, {"mode": "offer", "visiting_hours": OLD_HOURS}
        )
        local_hours = {
            "start": "08:00:00",
            "end": "20:00:00",
            "allowed_days": ["monday"],
        }
        local = insert_campaign(
            database_url, {"mode": "assign", "visiting_hours": local_hours}
        )
        without = insert_campaign(
            database_url, {"mode": "offer", "visiting_hours": None}
        )
        with pytest.raises(ValueError, match="UTC offset"):
            DispatchPolicy.model_validate(dispatch_of(database_url, old))

        upgrade(database_url, "ingest")

        migrated = dispatch_of(database_url, old)
        assert migrated["visiting_hours"] == {
            "start": "09:00:00",
            "end": "18:30:00",
            "allowed_days": None,
        }
        assert migrated["mode"] == "offer"
        policy = DispatchPolicy.model_validate(migrated)
        assert policy.visiting_hours is not None
        assert policy.visiting_hours.start.isoformat() == "09:00:00"
        assert dispatch_of(database_url, local)["visiting_hours"] == local_hours
        assert dispatch_of(database_url, without) == {
            "mode": "offer",
            "visiting_hours": None,
        }


class TestResultBestTimes:
    def test_offset_dropped_from_each_best_time(self, database_url: str) -> None:
        upgrade(
            database_url,
            "visits",
            revision_before("visits", "_drop_offsets_from_best_times.py"),
        )
        visit_id, result_id = uuid.uuid4(), uuid.uuid4()
        run(
            database_url,
            "INSERT INTO visits.visits (visit_id, tenant_id, campaign_id, "
            "account_id, account_key, attempt, state, objective, questions, "
            "max_discount_pct, debtor_name, location, deadline, fee_amount, "
            "fee_currency, requested_at, check_in_count) VALUES ($1, $2, $3, $4, "
            "'K-1', 1, 'completed', 'Collect', '{}', 10, 'Juana', "
            "ST_GeogFromText('POINT(-99.13 19.43)'), now(), 120, 'MXN', now(), 1)",
            visit_id,
            uuid.uuid4(),
            uuid.uuid4(),
            uuid.uuid4(),
        )
        update = {
            "phones": [],
            "best_times": [
                {"days": ["saturday"], "start": "09:00:00+05:30", "end": "13:00:00"},
                {"days": ["monday"], "start": "18:00:00", "end": "20:00:00-06:00"},
            ],
            "new_address": None,
        }
        run(
            database_url,
            "INSERT INTO visits.results (result_id, visit_id, tenant_id, agent_id, "
            "submission_id, person_met, result_code, contact, contact_update, "
            "answers, device_time, server_time, response) VALUES ($1, $2, $3, $4, "
            "'sub-1', 'debtor', 'refuses_to_pay', true, $5::jsonb, '{}', now(), "
            "now(), '{}')",
            result_id,
            visit_id,
            uuid.uuid4(),
            uuid.uuid4(),
            json.dumps(update),
        )
        with pytest.raises(ValueError, match="UTC offset"):
            ContactUpdate.model_validate(update)

        upgrade(database_url, "visits")

        [row] = run(
            database_url,
            "SELECT contact_update FROM visits.results WHERE result_id = $1",
            result_id,
        )
        migrated = json.loads(row["contact_update"])
        assert migrated["best_times"] == [
            {"days": ["saturday"], "start": "09:00:00", "end": "13:00:00"},
            {"days": ["monday"], "start": "18:00:00", "end": "20:00:00"},
        ]
        assert migrated["phones"] == []
        assert len(ContactUpdate.model_validate(migrated).best_times) == 2


class TestTimeColumns:
    @pytest.mark.parametrize(
        ("table", "column"),
        [
            ("visits.visits", "visiting_start"),
            ("visits.visits", "visiting_end"),
            ("matching.visit_requests", "visiting_start"),
            ("matching.visit_requests", "visiting_end"),
        ],
    )
    def test_copies_cannot_hold_an_offset(
        self, database_url: str, table: str, column: str
    ) -> None:
        schema, name = table.split(".")
        upgrade(database_url, schema)

        [row] = run(
            database_url,
            "SELECT data_type FROM information_schema.columns "
            "WHERE table_schema = $1 AND table_name = $2 AND column_name = $3",
            schema,
            name,
            column,
        )

        assert row["data_type"] == "time without time zone"
