"""The demo's agent leaderboard and municipality breakdown, read from reporting."""

from decimal import Decimal
from typing import Any

import httpx

TOP = 5


async def read_breakdowns(
    http: httpx.AsyncClient,
    reporting_url: str,
    headers: dict[str, str],
    campaign_id: str,
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Return the campaign's top agents and its zones by municipality."""
    board = await http.get(
        reporting_url + "/leaderboard",
        headers=headers,
        params={"campaign_id": campaign_id, "limit": TOP},
    )
    board.raise_for_status()
    zones = await http.get(
        reporting_url + f"/campaigns/{campaign_id}/zones",
        headers=headers,
        params={"level": "municipality"},
    )
    zones.raise_for_status()
    return board.json()["agents"], zones.json()["zones"]


def _percent(value: float | None) -> str:
    return "n/a" if value is None else f"{value * 100:.0f} %"


def _amount(value: str | None) -> str:
    return f"{Decimal(value or 0):,.2f}"


def leaderboard_lines(agents: list[dict[str, Any]], currency: str) -> list[str]:
    """Format the top agents: completed visits, contact, promises, flags."""
    lines = [f"  top {TOP} agents (by completed visits, then promised amount)"]
    for rank, agent in enumerate(agents[:TOP], start=1):
        who = agent.get("display_name") or agent["agent_id"][:8]
        lines.append(
            f"    {rank}. {who}  completed {agent['visits_completed']}, "
            f"contact {_percent(agent['contact_rate'])}, "
            f"promised {_amount(agent['promised_amount'])} {currency}, "
            f"flags {agent['visits_flagged']}, "
            f"rejections {agent['visits_rejected']}"
        )
    if len(lines) == 1:
        lines.append("    none: no agent holds a visit")
    return lines


def zone_lines(zones: list[dict[str, Any]]) -> list[str]:
    """Format the municipalities with the most visits."""
    lines = [f"  top {TOP} municipalities (by visits requested)"]
    for zone in zones[:TOP]:
        place = ", ".join(p for p in (zone["municipality"], zone["state"]) if p)
        lines.append(
            f"    {place or 'no municipality'}  requested {zone['visits_requested']}, "
            f"completed {zone['visits_completed']}, "
            f"out of coverage {zone['visits_out_of_coverage']}, "
            f"contact {_percent(zone['contact_rate'])}"
        )
    if len(lines) == 1:
        lines.append("    none: no visit was requested")
    return lines
