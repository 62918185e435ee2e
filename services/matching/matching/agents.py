"""Field agents: registration, the operator's decisions and the agent's own settings.

The operator commands call `register_agent` and `set_operator_status`; the
agent's routes call the rest.
"""

import re
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import structlog
from geoalchemy2 import WKTElement
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from sqlalchemy.ext.asyncio import AsyncSession

from matching import repository
from matching.coverage import parse_coverage_area
from matching.models import MAX_COVERAGE_RADIUS_M, Agent, AgentStatus, TravelMode
from matching.schedule import ScheduleIn
from matching.schemas import LocationIn, StatusIn
from shared.auth import issue_agent_token
from shared.errors import ConflictError, NotFoundError, UnprocessableError
from shared.settings import ServiceSettings

log = structlog.get_logger(__name__)

E164_PATTERN = re.compile(r"\+[1-9][0-9]{7,14}")
MAX_DAILY_CAPACITY = 1000


class AgentSpec(BaseModel):
    """An agent to register: who, where they start from and how much they take."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    phone: str = Field(description="E.164, e.g. +525512345678.")
    lat: float = Field(ge=-90, le=90, allow_inf_nan=False)
    lon: float = Field(ge=-180, le=180, allow_inf_nan=False)
    coverage_radius_m: int = Field(
        default=5000, description="Distance from the base the agent travels, meters."
    )
    coverage_area: dict[str, Any] | None = Field(
        default=None,
        description="A GeoJSON Polygon or MultiPolygon the agent covers instead "
        "of the circle of `coverage_radius_m`.",
    )
    daily_capacity: int = Field(default=8, description="Visits a day, at most.")
    travel_mode: TravelMode = TravelMode.MOTORCYCLE
    verified: bool = True
    status: AgentStatus = AgentStatus.ONLINE
    employer_tenant_id: uuid.UUID | None = Field(
        default=None,
        description="Set for a tenant's own staff, who only get that tenant's visits.",
    )

    @field_validator("name")
    @classmethod
    def _strip_name(cls, value: str) -> str:
        stripped = value.strip()
        if not stripped:
            raise ValueError("name must not be blank")
        if "\x00" in stripped:
            raise ValueError(
                "name contains a NUL character (\\x00), which cannot be stored. "
                "Remove it."
            )
        return stripped

    @field_validator("phone")
    @classmethod
    def _check_phone(cls, value: str) -> str:
        if not E164_PATTERN.fullmatch(value):
            raise ValueError(
                f"phone {value!r} is not in E.164 format: write '+', the country "
                "code and the number, digits only, e.g. +525512345678"
            )
        return value

    @field_validator("coverage_radius_m")
    @classmethod
    def _check_radius(cls, value: int) -> int:
        if not 0 < value <= MAX_COVERAGE_RADIUS_M:
            raise ValueError(
                f"coverage_radius_m {value} is out of range: it must be greater "
                f"than 0 and at most {MAX_COVERAGE_RADIUS_M} meters"
            )
        return value

    @model_validator(mode="after")
    def _check_area(self) -> "AgentSpec":
        if self.coverage_area is not None:
            parse_coverage_area(
                self.coverage_area, base_lat=self.lat, base_lon=self.lon
            )
        return self

    def coverage_area_wkt(self) -> WKTElement | None:
        return coverage_wkt(self.coverage_area, base_lat=self.lat, base_lon=self.lon)

    @field_validator("daily_capacity")
    @classmethod
    def _check_capacity(cls, value: int) -> int:
        if not 1 <= value <= MAX_DAILY_CAPACITY:
            raise ValueError(
                f"daily_capacity {value} is out of range: an agent takes at least "
                f"1 and at most {MAX_DAILY_CAPACITY} visits a day"
            )
        return value


def coverage_wkt(
    geojson: dict[str, Any] | None, *, base_lat: float, base_lon: float
) -> WKTElement | None:
    if geojson is None:
        return None
    area = parse_coverage_area(geojson, base_lat=base_lat, base_lon=base_lon)
    return WKTElement(area.wkt, srid=4326)


@dataclass(frozen=True)
class RegisteredAgent:
    agent_id: uuid.UUID
    token: str


async def register_agent(
    session: AsyncSession, spec: AgentSpec, *, settings: ServiceSettings
) -> RegisteredAgent:
    """Insert an agent in the caller's transaction and issue its access token.

    The caller commits; nothing is published, because no other service keeps
    a copy of agents.
    """
    agent_id = uuid.uuid4()
    await repository.insert_agent(
        session,
        agent_id=agent_id,
        name=spec.name,
        phone=spec.phone,
        lat=spec.lat,
        lon=spec.lon,
        coverage_radius_m=spec.coverage_radius_m,
        coverage_area=spec.coverage_area_wkt(),
        daily_capacity=spec.daily_capacity,
        travel_mode=spec.travel_mode,
        status=spec.status,
        verified=spec.verified,
        employer_tenant_id=spec.employer_tenant_id,
    )
    token = issue_agent_token(
        agent_id, secret=settings.agent_token_secret.get_secret_value()
    )
    log.info("agent.registered", agent_id=str(agent_id))
    return RegisteredAgent(agent_id=agent_id, token=token)


class AgentSuspendedError(ConflictError):
    code = "agent-suspended"
    title = "The agent is suspended"


def _not_found(agent_id: uuid.UUID) -> NotFoundError:
    return NotFoundError(
        f"agent {agent_id} not found: the token is valid but names no "
        "registered agent. Ask the operator to register the agent again"
    )


async def set_own_status(
    session: AsyncSession, agent_id: uuid.UUID, change: StatusIn
) -> None:
    """Put the agent online or offline; a suspended agent stays suspended."""
    async with session.begin():
        changed = await repository.set_agent_columns(
            session,
            agent_id,
            Agent.status != AgentStatus.SUSPENDED,
            status=change.status,
        )
        if changed:
            log.info("agent.status_set", agent_id=str(agent_id), status=change.status)
            return
        if await repository.get_agent(session, agent_id) is None:
            raise _not_found(agent_id)
    raise AgentSuspendedError(
        f"agent {agent_id} is suspended, so it cannot go {change.status}; ask "
        "the operator to reinstate the agent"
    )


async def set_own_location(
    session: AsyncSession, agent_id: uuid.UUID, fix: LocationIn
) -> bool:
    """Store the agent's last known location; False when a later one is stored."""
    async with session.begin():
        stored = await repository.set_last_location(
            session,
            agent_id,
            lat=fix.lat,
            lon=fix.lon,
            accuracy_m=fix.accuracy_m,
            recorded_at=fix.recorded_at,
            received_at=datetime.now(UTC),
        )
        if not stored and await repository.get_agent(session, agent_id) is None:
            raise _not_found(agent_id)
    return stored


async def set_own_schedule(
    session: AsyncSession, agent_id: uuid.UUID, schedule: ScheduleIn
) -> None:
    """Replace the agent's working hours and time zone."""
    windows = [(w.weekday, w.start, w.end) for w in schedule.windows()]
    async with session.begin():
        if not await repository.replace_schedule(
            session, agent_id, time_zone=schedule.time_zone, windows=windows
        ):
            raise _not_found(agent_id)
    log.info("agent.schedule_set", agent_id=str(agent_id), windows=len(windows))


async def set_operator_status(
    session: AsyncSession,
    agent_id: uuid.UUID,
    *,
    verified: bool | None = None,
    status: AgentStatus | None = None,
) -> bool:
    """Verify an agent, or suspend or reinstate one; False for no such agent.

    A reinstated agent comes back offline and goes online from the app.
    Runs in the caller's transaction.
    """
    values: dict[str, object] = {}
    if verified is not None:
        values["verified"] = verified
    if status is not None:
        values["status"] = status
    changed = await repository.set_agent_columns(session, agent_id, **values)
    log.info("agent.operator_status_set", agent_id=str(agent_id), **values)
    return changed


class CoverageIn(BaseModel):
    """Either a GeoJSON area, or a radius around the base that replaces it."""

    model_config = ConfigDict(extra="forbid")

    area: dict[str, Any] | None = Field(
        default=None, description="A GeoJSON Polygon or MultiPolygon."
    )
    radius_m: int | None = Field(
        default=None,
        gt=0,
        le=MAX_COVERAGE_RADIUS_M,
        description="Meters around the base; clears the area.",
    )

    @model_validator(mode="after")
    def _one_of(self) -> "CoverageIn":
        if (self.area is None) == (self.radius_m is None):
            raise ValueError("send either area or radius_m, not both and not neither")
        return self


async def set_own_coverage(
    session: AsyncSession, agent_id: uuid.UUID, coverage: CoverageIn
) -> None:
    """Replace the agent's coverage area, or go back to a circle.

    The area is checked against the stored base, and an invalid one raises
    UnprocessableError (422) that names the problem.
    """
    async with session.begin():
        agent = await repository.get_agent(session, agent_id)
        if agent is None:
            raise _not_found(agent_id)
        if coverage.radius_m is not None:
            values: dict[str, object] = {
                "coverage_radius_m": coverage.radius_m,
                "coverage_area": None,
            }
        else:
            try:
                area = coverage_wkt(
                    coverage.area, base_lat=agent.lat, base_lon=agent.lon
                )
            except ValueError as error:
                raise UnprocessableError(str(error)) from error
            values = {"coverage_area": area}
        await repository.set_agent_columns(session, agent_id, **values)
    log.info(
        "agent.coverage_set", agent_id=str(agent_id), area=coverage.area is not None
    )
