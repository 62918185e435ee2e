"""The demo agents' behaviour at the door: where they stand and what they file."""

import math
import random
import uuid
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx

EARTH_RADIUS_M = 6_371_008.8

# Weights of what the agent finds, roughly as field teams report them.
OUTCOMES = (
    ("debtor_promise", 30),
    ("debtor_no_promise", 15),
    ("guarantor_promise", 5),
    ("guarantor_no_promise", 5),
    ("other_person", 20),
    ("nobody", 25),
)
REASONS = ("desempleo", "enfermedad", "sobreendeudamiento", "olvido", "disputa")
# Result codes that fit each outcome, from the standard catalogue.
RESULT_CODES = {
    "promise": ("promise_to_pay", "promise_to_pay", "payment_plan"),
    "no_promise": (
        "refuses_to_pay",
        "cannot_pay_now",
        "asks_for_call",
        "disputes_debt",
    ),
    "other_person": ("message_left", "debtor_not_home", "moved"),
    "nobody": ("not_home", "not_home", "vacant"),
}


class AgentFailure(Exception):
    pass


def offset_point(
    lat: float, lon: float, distance_m: float, bearing_deg: float
) -> tuple[float, float]:
    """Return the point `distance_m` away on a bearing, on a spherical Earth."""
    angular = distance_m / EARTH_RADIUS_M
    bearing = math.radians(bearing_deg)
    phi1, lambda1 = math.radians(lat), math.radians(lon)
    phi2 = math.asin(
        math.sin(phi1) * math.cos(angular)
        + math.cos(phi1) * math.sin(angular) * math.cos(bearing)
    )
    lambda2 = lambda1 + math.atan2(
        math.sin(bearing) * math.sin(angular) * math.cos(phi1),
        math.cos(angular) - math.sin(phi1) * math.sin(phi2),
    )
    return math.degrees(phi2), math.degrees(lambda2)


def result_body(
    visit: dict[str, Any], outcome: str, rng: random.Random
) -> dict[str, Any]:
    person = outcome.split("_")[0]
    person_met = {"debtor": "debtor", "guarantor": "guarantor"}.get(person, outcome)
    body: dict[str, Any] = {
        "submission_id": str(uuid.uuid4()),
        "device_time": datetime.now(UTC).isoformat(),
        "person_met": person_met,
        "debtor_lives_there": {
            "debtor": True,
            "guarantor": rng.random() < 0.8,
            "other_person": rng.random() < 0.5,
        }.get(person_met),
        "answers": {
            "employment": rng.choice(
                ["empleado", "independiente", "desempleado", "no_sabe"]
            )
        },
        "notes": "Visita de demostración",
    }
    body["result_code"] = _result_code(outcome, person_met, rng)
    if body["result_code"] in ("moved", "vacant"):
        body["debtor_lives_there"] = False
    if person_met in ("debtor", "guarantor"):
        body["answers"]["reason_for_arrears"] = rng.choice(REASONS)
    if person_met == "other_person" and rng.random() < 0.5:
        body["contact_update"] = _heard_from_a_relative(rng)
    if outcome.endswith("_promise") and not outcome.endswith("no_promise"):
        balance = Decimal((visit.get("balance_overdue") or {}).get("amount") or "1000")
        share = Decimal(rng.choice(["0.3", "0.5", "0.75", "1"]))
        body["promise"] = {
            "amount": str((balance * share).quantize(Decimal("0.01"))),
            "currency": visit["fee"]["currency"],
            "due_date": (date.today() + timedelta(days=rng.randint(1, 14))).isoformat(),
        }
    if person_met == "debtor" and rng.random() < 0.3:
        body["new_phone"] = f"+5255{rng.randrange(10_000_000, 99_999_999)}"
    return body


def _result_code(outcome: str, person_met: str, rng: random.Random) -> str:
    if person_met in ("debtor", "guarantor"):
        kind = "no_promise" if outcome.endswith("no_promise") else "promise"
        return rng.choice(RESULT_CODES[kind])
    return rng.choice(RESULT_CODES[person_met])


def _heard_from_a_relative(rng: random.Random) -> dict[str, Any]:
    """Contact data a relative at the door gives: a phone and when to come back."""
    return {
        "phones": [
            {
                "number": f"+5255{rng.randrange(10_000_000, 99_999_999)}",
                "owner": "self",
                "given_by": "relative",
            }
        ],
        "best_times": [
            {"days": ["saturday", "sunday"], "start": "09:00", "end": "13:00"}
        ],
    }


async def play_agent(
    http: httpx.AsyncClient, visits_url: str, token: str, rng: random.Random
) -> list[str]:
    """Work through every open visit of one agent; return what each visit ended as."""
    headers = {"Authorization": f"Bearer {token}"}
    listing = await http.get(
        f"{visits_url}/agent/visits", headers=headers, params={"limit": 500}
    )
    _check(listing, 200, "listing the agent's visits")
    outcomes = []
    for visit in listing.json()["items"]:
        outcomes.append(await _visit(http, visits_url, headers, visit, rng))
    return outcomes


async def _visit(
    http: httpx.AsyncClient,
    visits_url: str,
    headers: dict[str, str],
    visit: dict[str, Any],
    rng: random.Random,
) -> str:
    base = f"{visits_url}/agent/visits/{visit['visit_id']}"
    lat, lon = offset_point(
        visit["location"]["lat"],
        visit["location"]["lon"],
        rng.uniform(3, 60),
        rng.uniform(0, 360),
    )
    check_in = await http.post(
        f"{base}/check-in",
        headers=headers,
        json={
            "lat": lat,
            "lon": lon,
            "accuracy_m": round(rng.uniform(5, 35), 1),
            "device_time": datetime.now(UTC).isoformat(),
        },
    )
    _check(check_in, 201, f"checking in at visit {visit['visit_id']}")
    outcome = rng.choices([o for o, _ in OUTCOMES], weights=[w for _, w in OUTCOMES])[0]
    body = result_body(visit, outcome, rng)
    filed = await http.post(f"{base}/result", headers=headers, json=body)
    _check(filed, 201, f"filing the result of visit {visit['visit_id']}")
    if rng.random() < 0.1:
        # An app that lost the first response sends the same submission again.
        again = await http.post(f"{base}/result", headers=headers, json=body)
        _check(again, 200, f"resending the result of visit {visit['visit_id']}")
        if again.json()["result_id"] != filed.json()["result_id"]:
            raise AgentFailure(
                f"visit {visit['visit_id']}: a resubmission made a second result"
            )
    return outcome


def _check(response: httpx.Response, status: int, doing: str) -> None:
    if response.status_code != status:
        raise AgentFailure(
            f"{doing} failed: HTTP {response.status_code} {response.text[:300]}"
        )
