"""Photo evidence: an agent's upload at the door and a tenant's download.

The bytes are stored under their SHA-256 before the row is written, so a
row never points at missing bytes. A failure between the two leaves only
an unreferenced file, which the next upload of the same bytes reuses.
"""

import hashlib
from datetime import UTC, datetime, timedelta
from uuid import UUID, uuid4

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from shared.errors import InvalidStateError, NotFoundError, UnprocessableError
from visits import images, proof_repository, repository
from visits.images import ImageFacts, TooManyPixelsError, UnreadableImageError
from visits.photo_store import PhotoStore
from visits.schemas import PhotoOut
from visits.service import visit_not_found
from visits.settings import VisitsSettings
from visits.states import VisitState

log = structlog.get_logger(__name__)

# Photos belong to the visit at the door: before the result is filed.
UPLOAD_STATES = (VisitState.ASSIGNED.value, VisitState.CHECKED_IN.value)


class UnsupportedImageError(UnprocessableError):
    code = "unsupported-image"
    title = "Unsupported image"


def judge_image(data: bytes, settings: VisitsSettings) -> ImageFacts:
    """Return the image's facts, or raise naming the format and the accepted ones."""
    accepted = ", ".join(settings.photo_types)
    if not data:
        raise UnsupportedImageError(
            f"the request body is empty; send the photo's bytes ({accepted})"
        )
    kind = images.sniff_kind(data)
    if kind is None or kind not in settings.photo_types:
        found = kind or f"unknown bytes starting {data[:8].hex()}"
        raise UnsupportedImageError(
            f"the body is {found}, not an accepted image; send one of: {accepted}",
            accepted=list(settings.photo_types),
        )
    try:
        return images.read_facts(data, kind, max_pixels=settings.photo_max_pixels)
    except TooManyPixelsError as error:
        raise UnsupportedImageError(
            f"{error} (VISITS_PHOTO_MAX_PIXELS); send the photo at a lower resolution",
            max_pixels=settings.photo_max_pixels,
        ) from error
    except UnreadableImageError as error:
        raise UnsupportedImageError(
            f"{error}; send the photo as the camera saved it"
        ) from error


async def upload_photo(
    session: AsyncSession,
    store: PhotoStore,
    settings: VisitsSettings,
    *,
    agent_id: UUID,
    visit_id: UUID,
    data: bytes,
    device_time: datetime | None,
) -> tuple[int, PhotoOut]:
    """Keep a photo of the agent's open visit; the same bytes again return 200."""
    facts = judge_image(data, settings)
    digest = hashlib.sha256(data).hexdigest()
    async with session.begin():
        row = await repository.agent_visit(session, agent_id, visit_id)
        if row is None:
            raise visit_not_found(visit_id)
        existing = await proof_repository.photo_by_hash(session, visit_id, digest)
    if existing is not None:
        return 200, PhotoOut.model_validate(existing, from_attributes=True)
    visit = row.Visit
    _check_open(visit_id, visit.state)
    taken_at = _taken_at(facts, device_time)
    await store.put(digest, data, content_type=facts.media_type)
    async with session.begin():
        # The result may have been filed while the bytes were being stored.
        state = await proof_repository.lock_agent_visit_state(
            session, visit_id, agent_id
        )
        if state is None:
            raise visit_not_found(visit_id)
        _check_open(visit_id, state)
        photo = await proof_repository.insert_photo(
            session,
            photo_id=uuid4(),
            visit_id=visit_id,
            tenant_id=visit.tenant_id,
            agent_id=agent_id,
            sha256=digest,
            content_type=facts.media_type,
            size_bytes=len(data),
            width=facts.width,
            height=facts.height,
            taken_at=taken_at,
            exif_lat=facts.lat,
            exif_lon=facts.lon,
            uploaded_at=datetime.now(UTC),
        )
    if photo is None:
        # A concurrent upload of the same bytes to this visit won the insert.
        async with session.begin():
            photo = await proof_repository.photo_by_hash(session, visit_id, digest)
        assert photo is not None
        return 200, PhotoOut.model_validate(photo, from_attributes=True)
    log.info(
        "visits.photo_stored",
        visit_id=str(visit_id),
        photo_id=str(photo.photo_id),
        sha256=digest,
        size_bytes=len(data),
    )
    return 201, PhotoOut.model_validate(photo, from_attributes=True)


def _check_open(visit_id: UUID, state: str) -> None:
    if state not in UPLOAD_STATES:
        raise InvalidStateError(
            f"visit {visit_id} is {state}; photos are accepted only before "
            "the result is filed",
            current_state=state,
        )


def _taken_at(facts: ImageFacts, device_time: datetime | None) -> datetime | None:
    """Return the EXIF time in UTC, using the device's offset for a naive one."""
    fallback = device_time.utcoffset() if device_time is not None else None
    if facts.taken_at_local is None:
        return None
    if facts.taken_at_local.tzinfo is None and fallback is None:
        return None
    return images.taken_at_utc(facts.taken_at_local, fallback or timedelta(0))


async def tenant_photo(
    session: AsyncSession,
    store: PhotoStore,
    *,
    tenant_id: UUID,
    visit_id: UUID,
    photo_id: UUID,
) -> tuple[str, bytes]:
    """Return the media type and bytes of a photo of one of the tenant's visits."""
    async with session.begin():
        photo = await proof_repository.tenant_photo(
            session, tenant_id, visit_id, photo_id
        )
    if photo is None:
        raise NotFoundError(
            f"photo {photo_id} of visit {visit_id} not found for this tenant"
        )
    data = await store.get(photo.sha256)
    if data is None:
        log.error("visits.photo_bytes_missing", photo_id=str(photo_id))
        raise NotFoundError(
            f"the bytes of photo {photo_id} are missing from the photo store"
        )
    return photo.content_type, data
