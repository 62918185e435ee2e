"""Response bodies of the earnings endpoints."""

from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from uuid import UUID

from pydantic import BaseModel, Field


class MovementKind(StrEnum):
    EARNED = "earned"
    REVERSED = "reversed"


class MovementReason(StrEnum):
    """The cause of a movement. With the kind, it occurs once per visit."""

    REVIEW_WINDOW_CLOSED = "review_window_closed"
    APPEAL_OVERTURNED = "appeal_overturned"
    REJECTED = "rejected"


class PeriodOut(BaseModel):
    start: datetime = Field(description="First instant of the period, included.")
    end: datetime = Field(description="Instant the period ends, excluded.")


class CurrencyTotals(BaseModel):
    currency: str
    pending: Decimal = Field(
        description="Fees of visits completed in the period and not earned yet."
    )
    earned: Decimal = Field(description="Fees earned in the period.")
    reversed: Decimal = Field(
        description="Earned fees taken back in the period, as a negative amount."
    )
    net: Decimal = Field(description="earned plus reversed.")
    visit_count: int = Field(
        description="Distinct visits behind the pending fees and the movements."
    )


class MovementOut(BaseModel):
    movement_id: UUID
    visit_id: UUID
    attempt: int
    kind: MovementKind
    reason: MovementReason
    amount: Decimal = Field(description="Positive when earned, negative reversed.")
    currency: str
    occurred_at: datetime


class EarningsOut(BaseModel):
    agent_id: UUID
    period: PeriodOut
    totals: list[CurrencyTotals] = Field(description="One entry per currency.")
    movements: list[MovementOut] = Field(description="This page, newest first.")
    total: int = Field(description="Movements in the period, over every page.")
    limit: int
    offset: int
