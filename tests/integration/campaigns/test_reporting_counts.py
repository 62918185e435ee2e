"""Reporting's counts agree with the tables of the services that made the events.

Ingest requests the visits, matching assigns them, visits files the results,
promises and rejections, and reporting learns it all from the topics. Once
every event is applied, its figures must equal the counts in the source
tables.
"""

import uuid
from typing import Any

import httpx
from sqlalchemy import func, select

import reporting.app
from ingest.models import CampaignVisit
from tests.fixtures.apps import eventually, running_app
from tests.integration.campaigns.helpers import (
    LaunchedVisit,
    Services,
    Sessionmaker,
)
from tests.integration.campaigns.test_payments_and_promises import (
    payment,
    visit_with_promise,
    wait_for_promise,
)
from visits.models import Promise, Visit, VisitResult


async def source_counts(sessionmaker: Sessionmaker, campaign_id: str) -> dict[str, int]:
    """Count the campaign's visits and promises in ingest's and visits' tables."""
    campaign = uuid.UUID(campaign_id)
    async with sessionmaker() as session:
        requested = select(CampaignVisit).where(CampaignVisit.campaign_id == campaign)
        visits = select(Visit.state, func.count()).where(Visit.campaign_id == campaign)
        states = dict((await session.execute(visits.group_by(Visit.state))).all())
        promises = select(Promise.status, func.count()).join(
            Visit, Visit.visit_id == Promise.visit_id
        )
        # Reporting counts the promises of completed visits only.
        promises = promises.where(
            Visit.campaign_id == campaign, Visit.state == "completed"
        ).group_by(Promise.status)
        by_status = dict((await session.execute(promises)).all())
        flagged = (
            select(func.count())
            .select_from(VisitResult)
            .join(Visit, Visit.visit_id == VisitResult.visit_id)
        )
        return {
            "visits_requested": await _count(session, requested),
            "accounts_visited": int(
                await session.scalar(
                    select(func.count(func.distinct(CampaignVisit.account_id))).where(
                        CampaignVisit.campaign_id == campaign
                    )
                )
                or 0
            ),
            "visits_assigned": int(
                await session.scalar(
                    select(func.count()).where(
                        Visit.campaign_id == campaign, Visit.assigned_at.is_not(None)
                    )
                )
                or 0
            ),
            "visits_completed": states.get("completed", 0),
            "visits_rejected": states.get("rejected", 0),
            "promises": sum(by_status.values()),
            "promises_partly_kept": by_status.get("partly_kept", 0),
            "visits_flagged": int(
                await session.scalar(
                    flagged.where(
                        Visit.campaign_id == campaign, VisitResult.flagged.is_(True)
                    )
                )
                or 0
            ),
        }


async def _count(session: Any, query: Any) -> int:
    total = await session.scalar(select(func.count()).select_from(query.subquery()))
    return int(total or 0)


async def reported_counts(
    client: httpx.AsyncClient, launched: LaunchedVisit
) -> dict[str, int] | None:
    response = await client.get(
        f"/campaigns/{launched.campaign_id}/summary", headers=launched.headers
    )
    if response.status_code != 200:
        return None
    summary = response.json()
    return {
        name: summary[name]
        for name in (
            "visits_requested",
            "accounts_visited",
            "visits_assigned",
            "visits_completed",
            "visits_rejected",
            "promises",
            "promises_partly_kept",
            "visits_flagged",
        )
    }


async def assert_counts_agree(
    client: httpx.AsyncClient,
    sessionmaker: Sessionmaker,
    launched: LaunchedVisit,
    expected: dict[str, int],
) -> None:
    """Wait until the source tables reach `expected` and reporting's counts match."""
    seen: dict[str, Any] = {}

    async def agree() -> bool:
        seen["source"] = await source_counts(sessionmaker, launched.campaign_id)
        seen["reporting"] = await reported_counts(client, launched)
        reached = all(seen["source"][k] == v for k, v in expected.items())
        return reached and seen["reporting"] == seen["source"]

    try:
        await eventually(agree, timeout_seconds=60, message="counts agree")
    except AssertionError as error:
        raise AssertionError(f"{error}: {seen}") from None


class TestReportingAgreesWithSources:
    async def test_promise_and_payment_counted_alike(
        self, services: Services, sessionmaker: Sessionmaker
    ) -> None:
        async with running_app(reporting.app.create_app()) as client:
            launched = await visit_with_promise(services, sessionmaker, "1500.00")
            paid = await services.ingest.post(
                "/payments",
                headers=launched.headers,
                json=payment(launched.account_key, "600", f"P-{uuid.uuid4().hex}"),
            )
            assert paid.status_code == 201, paid.text
            await wait_for_promise(sessionmaker, launched.visit_id, "partly_kept")

            await assert_counts_agree(
                client,
                sessionmaker,
                launched,
                {"visits_completed": 1, "promises": 1, "promises_partly_kept": 1},
            )

    async def test_rejected_visit_counted_alike(
        self, services: Services, sessionmaker: Sessionmaker
    ) -> None:
        async with running_app(reporting.app.create_app()) as client:
            launched = await visit_with_promise(services, sessionmaker, "800.00")
            rejected = await services.visits.post(
                f"/visits/{launched.visit_id}/reject",
                headers=launched.headers,
                json={"reason": "La foto no muestra el domicilio"},
            )
            assert rejected.status_code == 201, rejected.text

            # The rejection makes ingest request a second attempt.
            await assert_counts_agree(
                client,
                sessionmaker,
                launched,
                {"visits_requested": 2, "visits_completed": 0, "visits_rejected": 1},
            )
