"""Seed a large campaign straight into reporting's read models, for exports.

The rows are made by PostgreSQL (generate_series), so seeding 200,000 visits
takes seconds and no Python memory. Every visit is completed, with a promise,
two phones, two photo links and a check-in, so that each row of the export
is as wide as a real one gets.
"""

import uuid
from datetime import UTC, datetime

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from shared.tenancy import RowScope, apply_scope

CAMPAIGN = text(
    "INSERT INTO reporting.campaigns (campaign_id, tenant_id, name, account_count,"
    " visit_count, excluded_count, launched_at, deadline)"
    " VALUES (:campaign, :tenant, :name, :rows, :rows, 0,"
    " CAST(:t0 AS timestamptz), CAST(:t0 AS timestamptz) + interval '14 days')"
)
FACTS = text(
    "INSERT INTO reporting.visit_facts (visit_id, tenant_id, campaign_id,"
    " account_id, requested_at, assigned_at, first_check_in_at, completed_at,"
    " person_met, contact, debtor_lives_there, promise_amount, promise_currency)"
    " SELECT gen_random_uuid(), :tenant, :campaign, gen_random_uuid(), at,"
    " at + interval '10 minutes', at + interval '2 hours',"
    " at + interval '150 minutes', 'debtor', true, true, 1500.00 + (i % 100), 'MXN'"
    " FROM generate_series(1, CAST(:rows AS integer)) AS i,"
    " LATERAL (SELECT CAST(:t0 AS timestamptz) + i * interval '1 second' AS at) t"
)
DETAILS = text(
    "INSERT INTO reporting.visit_details (visit_id, tenant_id, campaign_id,"
    " account_key, debtor_name, address, address_lat, address_lon, agent_id,"
    " check_in_lat, check_in_lon, check_in_distance_m, check_in_accuracy_m,"
    " check_in_verified, result_code, notes, new_phone, promise_due_date, flagged,"
    " photo_ids, reported_phones)"
    " SELECT visit_id, tenant_id, campaign_id, 'ACC-' || account_id,"
    " 'María Guadalupe Hernández López', 'Av. Insurgentes Sur 1602 int. 4,"
    " Crédito Constructor, Benito Juárez, Ciudad de México, C.P. 03940',"
    " 19.3631, -99.1815, gen_random_uuid(), 19.3632, -99.1814, 14.2, 8.0, true,"
    " 'promesa_pago', 'Atendió la titular; pagará el viernes en OXXO.',"
    " '+525512345678', DATE '2026-12-20', false,"
    " ARRAY[gen_random_uuid(), gen_random_uuid()],"
    ' \'[{"number": "+523312345678", "kind": "mobile", "owner": "spouse",'
    ' "given_by": "self", "whatsapp": true}]\'::jsonb'
    " FROM reporting.visit_facts WHERE tenant_id = :tenant AND campaign_id = :campaign"
)


async def seed_campaign(
    engine: AsyncEngine, *, tenant_id: uuid.UUID, rows: int, name: str = "Carga"
) -> uuid.UUID:
    """Insert a campaign of `rows` completed visits for the tenant; return its id."""
    campaign_id = uuid.uuid4()
    params = {
        "campaign": campaign_id,
        "tenant": tenant_id,
        "name": name,
        "rows": rows,
        "t0": datetime(2026, 12, 1, 15, 0, tzinfo=UTC),
    }
    async with engine.begin() as connection:
        # The engine may be a service's, whose role row-level security binds.
        await apply_scope(connection, RowScope(tenant_id=tenant_id))
        await connection.execute(CAMPAIGN, params)
        await connection.execute(FACTS, params)
        await connection.execute(DETAILS, params)
    return campaign_id
