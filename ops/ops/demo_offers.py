"""The demo agents' answers to offers: most accept, some decline, a few stay silent.

Each agent polls matching's `/agents/me/offers` as the agent app would and
answers each offer it sees. A silent agent never answers, so its offers run
out and matching passes the visits on to the next candidate.
"""

import asyncio
import random
from collections import Counter
from dataclasses import dataclass, field

import httpx

DECLINE_SHARE = 0.1
DECLINE_REASONS = ("too_far", "no_time", "unsafe_area", "fee_too_low", "other")
POLL_SECONDS = 3.0


@dataclass
class OfferTally:
    """What the agents saw and answered, summed over all of them."""

    seen: int = 0
    accepted: int = 0
    declined: Counter[str] = field(default_factory=Counter)
    refused: Counter[str] = field(default_factory=Counter)


async def answer_offers(
    http: httpx.AsyncClient,
    matching_url: str,
    token: str,
    rng: random.Random,
    tally: OfferTally,
    stop: asyncio.Event,
    *,
    silent: bool = False,
) -> None:
    """Poll and answer the agent's offers until `stop` is set."""
    headers = {"Authorization": f"Bearer {token}"}
    answered: set[str] = set()
    while not stop.is_set():
        listing = await http.get(f"{matching_url}/agents/me/offers", headers=headers)
        listing.raise_for_status()
        for offer in listing.json():
            if offer["offer_id"] in answered:
                continue
            answered.add(offer["offer_id"])
            tally.seen += 1
            if not silent:
                await _answer(http, matching_url, headers, offer, rng, tally)
        try:
            await asyncio.wait_for(
                stop.wait(), timeout=POLL_SECONDS * rng.uniform(0.5, 1.5)
            )
        except TimeoutError:
            pass


async def _answer(
    http: httpx.AsyncClient,
    matching_url: str,
    headers: dict[str, str],
    offer: dict[str, object],
    rng: random.Random,
    tally: OfferTally,
) -> None:
    base = f"{matching_url}/offers/{offer['offer_id']}"
    if rng.random() >= DECLINE_SHARE:
        accepted = await http.post(f"{base}/accept", headers=headers)
        if accepted.status_code in (200, 201):
            tally.accepted += 1
            return
        # Taken by another agent, run out, or no capacity left today.
        problem = accepted.json()
        tally.refused[
            problem.get("offer_state") or problem["type"].rsplit("/")[-1]
        ] += 1
        if accepted.status_code != 409:
            accepted.raise_for_status()
        if not problem["type"].endswith("/no-capacity"):
            return
        reason = "no_time"
    else:
        reason = rng.choice(DECLINE_REASONS)
    declined = await http.post(
        f"{base}/decline", headers=headers, json={"reason": reason}
    )
    if declined.status_code == 200:
        tally.declined[reason] += 1
    elif declined.status_code != 409:
        declined.raise_for_status()
