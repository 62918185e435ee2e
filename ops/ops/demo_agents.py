"""The demo agents' behaviour at the door: where they stand and what they file."""

import asyncio
import io
import math
import random
import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from fractions import Fraction
from typing import Any

import httpx
from PIL import Image

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


# The simulated day: an agent reaches a door every 25 minutes and stays 6
# to 15 of them. Device times run on this clock, which ends now, so they
# trail the server's by up to a few hours.
MINUTES_PER_VISIT = 25
# An agent's requests are rate-limited; the app waits and sends again.
RATE_LIMITED_TRIES = 5
# These agents fake their last visit (see `_faked_visit`).
FAKING_AGENTS = frozenset({3, 28})


class AgentFailure(Exception):
    pass


@dataclass
class AgentDay:
    """The results one agent filed: each visit's outcome and the faked visits."""

    outcomes: list[str] = field(default_factory=list)
    faked: list[str] = field(default_factory=list)


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


def _rational_dms(value: float) -> tuple[Fraction, Fraction, Fraction]:
    value = abs(value)
    degrees = int(value)
    minutes = int((value - degrees) * 60)
    seconds = Fraction((value - degrees - minutes / 60) * 3600).limit_denominator(100)
    return Fraction(degrees), Fraction(minutes), seconds


def door_photo(
    rng: random.Random, *, taken_at: datetime, lat: float, lon: float
) -> bytes:
    """Return a small JPEG with the EXIF time and GPS position a phone writes."""
    colour = (rng.randrange(256), rng.randrange(256), rng.randrange(256))
    image = Image.new("RGB", (48, 36), colour)
    exif = Image.Exif()
    details = exif.get_ifd(0x8769)
    details[0x9003] = taken_at.astimezone(UTC).strftime("%Y:%m:%d %H:%M:%S")
    details[0x9011] = "+00:00"
    gps = exif.get_ifd(0x8825)
    gps[1], gps[2] = ("N" if lat >= 0 else "S"), _rational_dms(lat)
    gps[3], gps[4] = ("E" if lon >= 0 else "W"), _rational_dms(lon)
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", exif=exif)
    return buffer.getvalue()


def result_body(
    visit: dict[str, Any],
    outcome: str,
    rng: random.Random,
    device_time: datetime | None = None,
) -> dict[str, Any]:
    person = outcome.split("_")[0]
    person_met = {"debtor": "debtor", "guarantor": "guarantor"}.get(person, outcome)
    body: dict[str, Any] = {
        "submission_id": str(uuid.uuid4()),
        "device_time": (device_time or datetime.now(UTC)).isoformat(),
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
    http: httpx.AsyncClient,
    visits_url: str,
    token: str,
    rng: random.Random,
    *,
    fakes_last_visit: bool = False,
) -> AgentDay:
    """Work through every open visit of one agent on a simulated day."""
    headers = {"Authorization": f"Bearer {token}"}
    listing = await http.get(
        f"{visits_url}/agent/visits", headers=headers, params={"limit": 500}
    )
    _check(listing, 200, "listing the agent's visits")
    visits = listing.json()["items"]
    day = AgentDay()
    clock = datetime.now(UTC) - timedelta(minutes=MINUTES_PER_VISIT * len(visits))
    last_photo: bytes | None = None
    for number, visit in enumerate(visits, start=1):
        door = Door(http, visits_url, headers, visit)
        if fakes_last_visit and number == len(visits):
            day.outcomes.append(await _faked_visit(door, rng, clock, last_photo))
            day.faked.append(visit["visit_id"])
        else:
            outcome, last_photo = await _visit(door, rng, clock)
            day.outcomes.append(outcome)
        clock += timedelta(minutes=MINUTES_PER_VISIT)
    return day


@dataclass(frozen=True)
class Door:
    """One visit of one agent, with the calls the app makes at its door."""

    http: httpx.AsyncClient
    visits_url: str
    headers: dict[str, str]
    visit: dict[str, Any]

    @property
    def base(self) -> str:
        return f"{self.visits_url}/agent/visits/{self.visit['visit_id']}"

    async def post(self, path: str, **request: Any) -> httpx.Response:
        """Send a POST as the agent's app does, waiting Retry-After after a 429."""
        request.setdefault("headers", self.headers)
        for _ in range(RATE_LIMITED_TRIES - 1):
            response = await self.http.post(f"{self.base}{path}", **request)
            if response.status_code != 429:
                return response
            await asyncio.sleep(float(response.headers.get("retry-after", "1")))
        return await self.http.post(f"{self.base}{path}", **request)

    async def check_in(self, body: dict[str, Any]) -> None:
        response = await self.post("/check-in", json=body)
        _check(response, 201, f"checking in at visit {self.visit['visit_id']}")

    async def upload(self, photo: bytes, device_time: datetime) -> str:
        response = await self.post(
            "/photos",
            headers={**self.headers, "Content-Type": "image/jpeg"},
            params={"device_time": device_time.isoformat()},
            content=photo,
        )
        if response.status_code not in (200, 201):
            _check(response, 201, f"uploading a photo of {self.visit['visit_id']}")
        return str(response.json()["photo_id"])

    async def file(self, body: dict[str, Any]) -> httpx.Response:
        response = await self.post("/result", json=body)
        _check(response, 201, f"filing the result of visit {self.visit['visit_id']}")
        return response


async def _visit(
    door: Door, rng: random.Random, arrived: datetime
) -> tuple[str, bytes]:
    """Play an honest visit: near the door, minutes on site, a photo of its own."""
    visit = door.visit
    lat, lon = offset_point(
        visit["location"]["lat"],
        visit["location"]["lon"],
        rng.uniform(3, 60),
        rng.uniform(0, 360),
    )
    await door.check_in(
        {
            "lat": lat,
            "lon": lon,
            "accuracy_m": round(rng.uniform(5, 35), 1),
            "device_time": arrived.isoformat(),
        }
    )
    photo = door_photo(rng, taken_at=arrived + timedelta(minutes=2), lat=lat, lon=lon)
    photo_id = await door.upload(photo, arrived)
    outcome = rng.choices([o for o, _ in OUTCOMES], weights=[w for _, w in OUTCOMES])[0]
    left = arrived + timedelta(minutes=rng.uniform(6, 15))
    body = result_body(visit, outcome, rng, device_time=left)
    body["photo_ids"] = [photo_id]
    filed = await door.file(body)
    if rng.random() < 0.1:
        # An app that lost the first response sends the same submission again.
        again = await door.post("/result", json=body)
        _check(again, 200, f"resending the result of visit {visit['visit_id']}")
        if again.json()["result_id"] != filed.json()["result_id"]:
            raise AgentFailure(
                f"visit {visit['visit_id']}: a resubmission made a second result"
            )
    return outcome, photo


async def _faked_visit(
    door: Door, rng: random.Random, arrived: datetime, reused: bytes | None
) -> str:
    """File a visit never made: a mocked fix 3 km away, 40 seconds, an old photo."""
    visit = door.visit
    lat, lon = offset_point(
        visit["location"]["lat"], visit["location"]["lon"], 3_000, rng.uniform(0, 360)
    )
    await door.check_in(
        {
            "lat": lat,
            "lon": lon,
            "accuracy_m": 8.0,
            "device_time": arrived.isoformat(),
            "mock_location": True,
        }
    )
    photo = reused or door_photo(rng, taken_at=arrived, lat=lat, lon=lon)
    photo_id = await door.upload(photo, arrived)
    body = result_body(
        visit, "nobody", rng, device_time=arrived + timedelta(seconds=40)
    )
    body["photo_ids"] = [photo_id]
    await door.file(body)
    return "nobody"


def _check(response: httpx.Response, status: int, doing: str) -> None:
    if response.status_code != status:
        raise AgentFailure(
            f"{doing} failed: HTTP {response.status_code} {response.text[:300]}"
        )
