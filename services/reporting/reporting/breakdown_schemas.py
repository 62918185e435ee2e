"""Response bodies of the figures per agent, zone and day, and of the leaderboard."""

import uuid
from datetime import date
from decimal import Decimal

from pydantic import BaseModel, Field

from reporting.schemas import RATE, Percentiles


class Figures(BaseModel):
    """The figures of one group of visits; the same definitions as the summary."""

    accounts: int = Field(description="Distinct accounts among the visits.")
    visits_requested: int
    visits_assigned: int
    visits_checked_in: int
    visits_visited: int = Field(
        description="Visits with a verified check-in at the address."
    )
    visits_completed: int = Field(description="Results filed and not rejected.")
    visits_rejected: int = Field(
        description="Results a director rejected, unless an appeal overturned it."
    )
    visits_out_of_coverage: int
    visits_expired: int
    visits_cancelled: int
    contact_rate: float | None = Field(
        description="Completed visits that met the debtor or a guarantor, over "
        "completed visits. " + RATE
    )
    located_rate: float | None = Field(
        description="Completed visits where the debtor lives at the address, over "
        "completed visits. " + RATE
    )
    promise_rate: float | None = Field(
        description="Completed visits with contact and a payment promise, over "
        "completed visits with contact. " + RATE
    )
    promises: int
    promised_amount: Decimal = Field(description="Sum of the promises in `currency`.")
    promises_kept: int
    promises_partly_kept: int
    promises_broken: int
    kept_amount: Decimal = Field(
        description="Sum paid against the promises so far, in `currency`."
    )
    currency: str
    visits_flagged: int = Field(
        description="Results the fraud score flagged, rejected or not."
    )
    within_deadline_rate: float | None = Field(
        description="Completed visits filed by the visit's deadline, over "
        "completed visits. " + RATE
    )
    visited_within_72h_rate: float | None = Field(
        description="Visits with a verified check-in within 72 h of the request, "
        "over visits neither out of coverage nor cancelled. " + RATE
    )
    time_to_assignment_seconds: Percentiles
    time_to_first_visit_seconds: Percentiles = Field(
        description="From the request to the first verified check-in."
    )


class AgentFigures(Figures):
    agent_id: uuid.UUID = Field(
        description="The agent who filed the result, else the latest one assigned."
    )
    display_name: str | None = Field(
        description="Null: no event that reporting consumes carries agent names."
    )


class AgentFiguresList(BaseModel):
    campaign_id: uuid.UUID
    agents: list[AgentFigures] = Field(description="In leaderboard order.")


class ZoneFigures(Figures):
    state: str | None = Field(description="Null at the postal_code level.")
    municipality: str | None = Field(description="Set at the municipality level.")
    postal_code: str | None = Field(description="Set at the postal_code level.")


class ZoneFiguresList(BaseModel):
    campaign_id: uuid.UUID
    level: str
    zones: list[ZoneFigures] = Field(
        description="Most visits requested first; visits whose address lacks the "
        "level's field are grouped under null."
    )


class DayFigures(Figures):
    day: date = Field(description="Calendar day in `time_zone`.")


class DayFiguresList(BaseModel):
    campaign_id: uuid.UUID
    time_zone: str = Field(
        description="IANA zone of the days: the `tz` parameter, else the zone of "
        "the tenant's country."
    )
    days: list[DayFigures] = Field(
        description="Days with at least one event, oldest first. Each figure "
        "counts a visit on the day of its own event."
    )


class Leaderboard(BaseModel):
    campaign_id: uuid.UUID | None
    time_zone: str
    first_day: date | None
    last_day: date | None
    sorted_by: list[str] = Field(
        description="The sort key, most significant first; ties end on agent_id."
    )
    agents: list[AgentFigures]
