"""Seed the visits tables with assigned and checked-in visits, by SQL alone.

The bench needs no ingest or matching: it writes the rows their events
would have left. One tenant sets a weekly visit limit, so every first
check-in runs the limit's lock and count. Visits are spread over campaigns
and agents round-robin, and each agent already has a few check-ins of the
day, so the travel-speed signal finds a previous visit. A checked-in visit
has the agent's check-in 20 minutes ago and one photo with its own
bytes, which the result cites.
"""

import uuid
from dataclasses import dataclass

import asyncpg

# A small campaign form, like the ones directors write: one required choice.
QUESTIONS = (
    '{"type": "object", "properties": {"reason": {"type": "string", '
    '"enum": ["job_loss", "illness", "other"]}, "monthly_income": '
    '{"type": "number", "minimum": 0}}, "required": ["reason"], '
    '"additionalProperties": false}'
)
CENTER_LAT, CENTER_LON = 19.4326, -99.1332
WEEKLY_LIMIT = 3

INSERT_VISITS = """
INSERT INTO visits.visits (
    visit_id, tenant_id, campaign_id, account_id, account_key, attempt, state,
    objective, questions, max_discount_pct, debtor_name, phone, street,
    colonia, municipality, address_state, postal_code, location,
    balance_amount, balance_currency, days_past_due, deadline, fee_amount,
    fee_currency, requested_at, agent_id, assigned_at, assignment_id,
    time_zone, check_in_count, checked_in_at)
SELECT gen_random_uuid(), $1, ($2::uuid[])[1 + i % cardinality($2::uuid[])],
    gen_random_uuid(), 'BENCH-' || $5 || '-' || i, 1, $5,
    'Confirm the address and agree a payment', $6::jsonb, 15,
    'Deudor ' || i, '+525512345678', 'Calle ' || i, 'Centro', 'Cuauhtémoc',
    'Ciudad de México', '06000',
    ST_SetSRID(ST_MakePoint($7 + (i % 97) * 0.0007, $8 + (i % 89) * 0.0007),
        4326)::geography,
    5000, 'MXN', 45, now() + interval '5 days', 120, 'MXN',
    now() - interval '1 day', ($3::uuid[])[1 + i % cardinality($3::uuid[])],
    now() - interval '2 hours', gen_random_uuid(), 'America/Mexico_City',
    CASE WHEN $5 = 'checked_in' THEN 1 ELSE 0 END,
    CASE WHEN $5 = 'checked_in' THEN now() - interval '20 minutes' END
FROM generate_series(1, $4) AS i
"""

# One check-in 20 minutes ago, 8 m from the door, per checked-in visit.
INSERT_CHECK_INS = """
INSERT INTO visits.check_ins (
    check_in_id, visit_id, tenant_id, agent_id, location, accuracy_m,
    mock_location, distance_m, verified, device_time, server_time)
SELECT gen_random_uuid(), visit_id, tenant_id, agent_id, location, 9, false, 8,
    true, checked_in_at, checked_in_at
FROM visits.visits WHERE tenant_id = $1 AND state = 'checked_in'
"""

INSERT_PHOTOS = """
INSERT INTO visits.photos (
    photo_id, visit_id, tenant_id, agent_id, sha256, content_type, size_bytes,
    width, height, taken_at, exif_lat, exif_lon, uploaded_at)
SELECT gen_random_uuid(), visit_id, tenant_id, agent_id,
    encode(sha256(visit_id::text::bytea), 'hex'), 'image/jpeg', 180000, 1600,
    1200, checked_in_at + interval '1 minute', ST_Y(location::geometry),
    ST_X(location::geometry), checked_in_at + interval '2 minutes'
FROM visits.visits WHERE tenant_id = $1 AND state = 'checked_in'
"""

# Earlier visits of each agent's day, at other doors, so that every agent
# has a previous check-in for the travel-speed signal.
INSERT_EARLIER_CHECK_INS = """
INSERT INTO visits.check_ins (
    check_in_id, visit_id, tenant_id, agent_id, location, accuracy_m,
    mock_location, distance_m, verified, device_time, server_time)
SELECT gen_random_uuid(), v.visit_id, v.tenant_id, v.agent_id, v.location, 9,
    false, 8, true, now() - interval '3 hours', now() - interval '3 hours'
FROM visits.visits v WHERE v.tenant_id = $1 AND v.state = 'completed'
"""


@dataclass(frozen=True)
class SeededVisit:
    visit_id: str
    agent_id: str
    photo_id: str | None


@dataclass(frozen=True)
class Seeded:
    tenant_id: uuid.UUID
    assigned: list[SeededVisit]
    checked_in: list[SeededVisit]


async def seed(dsn: str, *, visits: int, agents: int, campaigns: int = 20) -> Seeded:
    """Insert `visits` assigned and `visits` checked-in visits; return them."""
    tenant_id = uuid.uuid4()
    agent_ids = [uuid.uuid4() for _ in range(agents)]
    campaign_ids = [uuid.uuid4() for _ in range(campaigns)]
    connection = await asyncpg.connect(dsn)
    try:
        async with connection.transaction():
            await connection.execute(
                "INSERT INTO visits.tenant_visit_rules "
                "(tenant_id, max_visits_per_account_week) VALUES ($1, $2)",
                tenant_id,
                WEEKLY_LIMIT,
            )
            for state, count in (
                ("completed", agents * 3),
                ("assigned", visits),
                ("checked_in", visits),
            ):
                await connection.execute(
                    INSERT_VISITS,
                    tenant_id,
                    campaign_ids,
                    agent_ids,
                    count,
                    state,
                    QUESTIONS,
                    CENTER_LON,
                    CENTER_LAT,
                )
            await connection.execute(INSERT_EARLIER_CHECK_INS, tenant_id)
            await connection.execute(INSERT_CHECK_INS, tenant_id)
            await connection.execute(INSERT_PHOTOS, tenant_id)
        await connection.execute("ANALYZE")
        rows = await connection.fetch(
            "SELECT v.state, v.visit_id::text, v.agent_id::text, p.photo_id::text "
            "FROM visits.visits v LEFT JOIN visits.photos p USING (visit_id) "
            "WHERE v.tenant_id = $1 AND v.state IN ('assigned', 'checked_in') "
            "ORDER BY random()",
            tenant_id,
        )
    finally:
        await connection.close()
    by_state: dict[str, list[SeededVisit]] = {"assigned": [], "checked_in": []}
    for row in rows:
        by_state[row[0]].append(SeededVisit(row[1], row[2], row[3]))
    return Seeded(tenant_id, by_state["assigned"], by_state["checked_in"])
