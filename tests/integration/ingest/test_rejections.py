"""A rejected visit is requested again; an overturned rejection drops that request."""

import uuid
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from ingest.app import create_app
from ingest.settings import IngestSettings
from shared.db import create_engine, create_sessionmaker
from shared.events import Envelope
from shared.events.payloads import (
    AppealOutcome,
    Money,
    PersonMet,
    VisitAppealResolved,
    VisitRejected,
)
from tests.fixtures.apps import eventually, running_app
from tests.fixtures.events import publish
from tests.integration.ingest.test_revisits import (
    Sessionmaker,
    completed,
    handled,
    launched_request,
    requests_of,
    revisit_after,
)


@pytest.fixture(scope="module")
async def client():
    settings = IngestSettings(revisit_poll_seconds=0.2)
    async with running_app(create_app(settings)) as client:
        yield client


@pytest.fixture(scope="module")
async def sessionmaker():
    engine = create_engine(IngestSettings().database_url, pool_size=2)
    yield create_sessionmaker(engine)
    await engine.dispose()


def rejected(request: Envelope) -> VisitRejected:
    data = request.data
    return VisitRejected(
        tenant_id=request.tenant_id,
        visit_id=data["visit_id"],
        campaign_id=data["campaign_id"],
        account_id=data["account_id"],
        agent_id=uuid.uuid4(),
        attempt=data["attempt"],
        reason="Photo of another house",
        fee=Money(amount=Decimal("150.00"), currency="MXN"),
        rejected_at=datetime.now(UTC),
    )


def overturned(request: Envelope) -> VisitAppealResolved:
    data = request.data
    return VisitAppealResolved(
        tenant_id=request.tenant_id,
        visit_id=data["visit_id"],
        campaign_id=data["campaign_id"],
        account_id=data["account_id"],
        agent_id=None,
        outcome=AppealOutcome.OVERTURNED,
        fee=Money(amount=Decimal("150.00"), currency="MXN"),
        resolved_at=datetime.now(UTC),
    )


class TestRejectedVisit:
    async def test_requested_again_past_attempt_cap(
        self, client, sessionmaker: Sessionmaker
    ) -> None:
        policy = {"revisit_delay_seconds": 3600, "max_attempts": 1}
        _, first = await launched_request(client, policy)
        await publish([completed(first, PersonMet.DEBTOR)])
        await publish([rejected(first)])

        requests = await requests_of(first.data["campaign_id"], count=2)

        assert requests[1].data["attempt"] == 2
        assert requests[1].data["account_id"] == first.data["account_id"]
        revisit = await revisit_after(sessionmaker, first.data["visit_id"])
        assert revisit is not None
        assert revisit.state == "requested"

    async def test_overturn_drops_waiting_attempt(
        self, client, sessionmaker: Sessionmaker
    ) -> None:
        # One visit a week: the new attempt waits, so the appeal finds it.
        policy = {"max_attempts": 1, "max_visits_per_week": 1}
        _, first = await launched_request(client, policy)
        await publish([completed(first, PersonMet.DEBTOR)])
        rejection = rejected(first)
        await publish([rejection])

        async def postponed() -> bool:
            revisit = await revisit_after(sessionmaker, first.data["visit_id"])
            return revisit is not None and revisit.due_at > rejection.rejected_at

        await eventually(postponed, message="revisit postponed by the weekly limit")
        [appeal] = await publish([overturned(first)])
        await handled(sessionmaker, appeal)

        revisit = await revisit_after(sessionmaker, first.data["visit_id"])
        assert revisit is not None
        assert revisit.state == "cancelled"
        assert revisit.skip_reason == "rejection overturned on appeal"

    async def test_overturn_keeps_nobody_home_revisit(
        self, client, sessionmaker: Sessionmaker
    ) -> None:
        policy = {"revisit_delay_seconds": 3600, "max_attempts": 2}
        _, first = await launched_request(client, policy)
        await publish([completed(first, PersonMet.NOBODY)])
        await publish([rejected(first)])
        [appeal] = await publish([overturned(first)])
        await handled(sessionmaker, appeal)

        revisit = await revisit_after(sessionmaker, first.data["visit_id"])
        assert revisit is not None
        assert revisit.state == "scheduled"
