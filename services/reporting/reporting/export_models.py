"""The visit details that campaign exports need beyond the figures' read model.

`visit_details` sits beside `visit_facts` (same visit id) so that the
figures' table stays narrow: the export joins the two. Like every read
model, each column comes from one event type, and upserts make any order and
any redelivery of the events give the same row.

NOTE: this table contains debtors' names, addresses and phones, copied from the
visit requests and results, because a director's export must show them.
"""

import uuid
from datetime import date
from typing import Any

from sqlalchemy import Boolean, Date, Float, Index, String, Text
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, UUID
from sqlalchemy.orm import Mapped, mapped_column

from reporting.models import Base


class VisitDetail(Base):
    __tablename__ = "visit_details"
    __table_args__ = (
        Index("ix_visit_details_tenant_campaign", "tenant_id", "campaign_id"),
    )

    visit_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    tenant_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    campaign_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    # From visit.requested.
    account_key: Mapped[str | None] = mapped_column(String(200))
    debtor_name: Mapped[str | None] = mapped_column(Text)
    address: Mapped[str | None] = mapped_column(Text)
    # Municipality, state and postal code: what a masked export shows.
    address_zone: Mapped[str | None] = mapped_column(Text)
    address_lat: Mapped[float | None] = mapped_column(Float)
    address_lon: Mapped[float | None] = mapped_column(Float)
    # From visit.assigned, visit.checked_in and visit.completed.
    agent_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    # From the first visit.checked_in.
    check_in_lat: Mapped[float | None] = mapped_column(Float)
    check_in_lon: Mapped[float | None] = mapped_column(Float)
    check_in_distance_m: Mapped[float | None] = mapped_column(Float)
    check_in_accuracy_m: Mapped[float | None] = mapped_column(Float)
    check_in_verified: Mapped[bool | None] = mapped_column(Boolean)
    # From visit.completed.
    result_code: Mapped[str | None] = mapped_column(String(100))
    notes: Mapped[str | None] = mapped_column(Text)
    new_phone: Mapped[str | None] = mapped_column(String(100))
    promise_due_date: Mapped[date | None] = mapped_column(Date)
    flagged: Mapped[bool | None] = mapped_column(Boolean)
    photo_ids: Mapped[list[uuid.UUID] | None] = mapped_column(ARRAY(UUID(as_uuid=True)))
    # From contact_data.updated: the phones as published, a list of objects.
    reported_phones: Mapped[list[dict[str, Any]] | None] = mapped_column(JSONB)
