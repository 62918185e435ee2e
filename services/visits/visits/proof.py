"""The proof filed with a result: its photos and the fraud assessment.

Runs inside the result's transaction, before the result row is written, so
the score is stored with the result and travels in the same
`visit.completed` event.
"""

from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import Row
from sqlalchemy.ext.asyncio import AsyncSession

from shared.errors import UnprocessableError
from shared.tenancy import across_agents
from visits import proof_repository, signals
from visits.settings import VisitsSettings


async def file_proof(
    session: AsyncSession,
    settings: VisitsSettings,
    *,
    visit_id: UUID,
    agent_id: UUID,
    result_id: UUID,
    photo_ids: list[UUID],
    device_time: datetime,
    server_time: datetime,
    address_radius_m: float | None,
) -> signals.Assessment:
    """Link the cited photos to `result_id`, then assess the visit's signals.

    `address_radius_m` is the uncertainty of the visit's geocode. The
    caller stores the assessment in the result row it inserts next.
    """
    # A visit given back and handed over keeps the previous agent's photos,
    # which neither prove nor incriminate the agent filing now.
    # A photo's bytes are looked for in every agent's visits; only the count
    # of those visits reaches the signal. The statement links and reads only
    # this agent's photos of this visit.
    async with across_agents(session):
        photo_rows = await proof_repository.attach_and_read_photos(
            session, visit_id, photo_ids, result_id, agent_id=agent_id
        )
    cited = [row.photo_id for row in photo_rows if row.cited]
    missing = sorted(set(photo_ids) - set(cited), key=str)
    if missing:
        raise UnprocessableError(
            f"photos {', '.join(map(str, missing))} were not uploaded by this agent "
            f"to visit {visit_id}; upload them to /agent/visits/{visit_id}/photos "
            "first",
            errors=[
                {
                    "location": "body.photo_ids",
                    "message": "unknown photo",
                    "input": str(i),
                }
                for i in missing
            ],
        )
    evidence = await gather_evidence(
        session,
        photo_rows,
        visit_id=visit_id,
        agent_id=agent_id,
        device_time=device_time,
        server_time=server_time,
        address_radius_m=address_radius_m,
    )
    return signals.assess(evidence, settings)


async def gather_evidence(
    session: AsyncSession,
    photo_rows: list[Row[Any]],
    *,
    visit_id: UUID,
    agent_id: UUID,
    device_time: datetime,
    server_time: datetime,
    address_radius_m: float | None,
) -> signals.Evidence:
    rows, before = await proof_repository.check_ins_for_evidence(
        session, visit_id, agent_id=agent_id
    )
    fixes = [
        signals.Fix(
            lat=row.lat,
            lon=row.lon,
            distance_m=row.distance_m,
            accuracy_m=row.accuracy_m,
            mock_location=row.mock_location,
            device_time=row.device_time,
            server_time=row.server_time,
        )
        for row in rows
    ]
    previous = None
    if before is not None:
        previous = signals.PreviousFix(
            lat=before.lat, lon=before.lon, device_time=before.device_time
        )
    photos = [
        signals.PhotoEvidence(
            taken_at=row.taken_at,
            lat=row.exif_lat,
            lon=row.exif_lon,
            other_visits=row.other_visits,
        )
        for row in photo_rows
    ]
    return signals.Evidence(
        fixes=fixes,
        result_device_time=device_time,
        result_server_time=server_time,
        previous=previous,
        photos=photos,
        address_radius_m=address_radius_m,
    )
