"""The demo's leaderboard and municipality lines, and the summary that prints them."""

import uuid

import httpx
import pytest

from ops.demo import print_summary
from ops.demo_figures import leaderboard_lines, read_breakdowns, zone_lines
from ops.demo_offers import OfferTally


def agent(completed: int, **fields: object) -> dict[str, object]:
    return {
        "agent_id": str(uuid.uuid4()),
        "display_name": None,
        "visits_completed": completed,
        "contact_rate": 0.5,
        "promised_amount": "1500.00",
        "visits_flagged": 0,
        "visits_rejected": 0,
        **fields,
    }


def zone(municipality: str | None, requested: int) -> dict[str, object]:
    return {
        "state": "Jalisco",
        "municipality": municipality,
        "visits_requested": requested,
        "visits_completed": requested - 1,
        "visits_out_of_coverage": 1,
        "contact_rate": None,
    }


class TestLeaderboardLines:
    def test_top_five_in_given_order(self) -> None:
        agents = [agent(10 - n) for n in range(7)]

        lines = leaderboard_lines(agents, "MXN")

        assert len(lines) == 6
        assert lines[1].startswith(f"    1. {agents[0]['agent_id'][:8]}  completed 10")
        assert lines[5].startswith(f"    5. {agents[4]['agent_id'][:8]}  completed 6")
        assert "promised 1,500.00 MXN" in lines[1]

    def test_display_name_shown_when_known(self) -> None:
        lines = leaderboard_lines([agent(1, display_name="Ana")], "MXN")

        assert lines[1].startswith("    1. Ana  completed 1")

    def test_empty_board_says_so(self) -> None:
        assert leaderboard_lines([], "MXN")[1] == "    none: no agent holds a visit"


class TestZoneLines:
    def test_top_five_with_state(self) -> None:
        zones = [zone(f"Municipio {n}", 20 - n) for n in range(6)]

        lines = zone_lines(zones)

        assert len(lines) == 6
        assert lines[1] == (
            "    Municipio 0, Jalisco  requested 20, completed 19, "
            "out of coverage 1, contact n/a"
        )

    def test_missing_municipality_keeps_state(self) -> None:
        assert zone_lines([zone(None, 3)])[1].startswith("    Jalisco  requested 3")


class TestPrintSummary:
    def test_summary_prints_leaders_and_zones(
        self, capsys: pytest.CaptureFixture[str]
    ) -> None:
        figures = {"name": "Demo", "currency": "MXN", "promised_amount": "0"}
        leader = agent(4)

        print_summary(
            figures,
            [{"state": "completed"}],
            {"accepted": 1},
            OfferTally(),
            [],
            [],
            leaders=[leader],
            zones=[zone("Zapopan", 2)],
        )

        printed = capsys.readouterr().out
        assert f"1. {leader['agent_id'][:8]}  completed 4" in printed
        assert "Zapopan, Jalisco  requested 2" in printed


class TestReadBreakdowns:
    async def test_asks_reporting_for_campaign_top_and_municipalities(self) -> None:
        asked: list[httpx.Request] = []

        def answer(request: httpx.Request) -> httpx.Response:
            asked.append(request)
            if request.url.path == "/leaderboard":
                return httpx.Response(200, json={"agents": [agent(1)]})
            return httpx.Response(200, json={"zones": [zone("Zapopan", 2)]})

        transport = httpx.MockTransport(answer)
        async with httpx.AsyncClient(transport=transport) as http:
            leaders, zones = await read_breakdowns(
                http, "http://reporting.test", {"X-API-Key": "k"}, "c-1"
            )

        assert [r.url.params.get("campaign_id") for r in asked] == ["c-1", None]
        assert asked[0].url.params["limit"] == "5"
        assert asked[1].url.path == "/campaigns/c-1/zones"
        assert asked[1].url.params["level"] == "municipality"
        assert zones[0]["municipality"] == "Zapopan"
        assert leaders[0]["visits_completed"] == 1

    async def test_error_status_raised(self) -> None:
        transport = httpx.MockTransport(lambda _: httpx.Response(404, json={}))
        async with httpx.AsyncClient(transport=transport) as http:
            with pytest.raises(httpx.HTTPStatusError):
                await read_breakdowns(http, "http://reporting.test", {}, "c-1")
