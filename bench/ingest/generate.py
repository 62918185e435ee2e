"""Write the benchmark's portfolio files: a large CSV and a large XLSX.

Rows have the shape of `examples/portfolio.xlsx`, with the Spanish headers
directors use. Values are made up but realistic in width and variety, and
every row is valid, so every stage of the pipeline does its full work.
"""

import csv
import random
from collections.abc import Iterator
from pathlib import Path

import xlsxwriter

HEADERS = (
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
)
NAMES = ("María", "José", "Guadalupe", "Juan", "Rosa", "Miguel", "Leticia")
SURNAMES = ("Hernández", "García", "Martínez", "López", "González", "Pérez")
STREETS = ("Av. Juárez", "Calle Hidalgo", "Calle Morelos", "Av. Revolución")
COLONIAS = ("Centro", "Roma Norte", "Del Valle", "Narvarte", "Doctores")
PLACES = (
    ("Cuauhtémoc", "Ciudad de México", "06", 19.43, -99.15),
    ("Benito Juárez", "Ciudad de México", "03", 19.38, -99.16),
    ("Guadalajara", "Jalisco", "44", 20.66, -103.35),
    ("Zapopan", "Jalisco", "45", 20.72, -103.39),
)


def portfolio_rows(count: int, *, seed: int = 7) -> Iterator[list[object]]:
    """Yield `count` data rows; the same seed yields the same rows."""
    rng = random.Random(seed)
    for index in range(count):
        municipality, state, cp_prefix, lat, lon = rng.choice(PLACES)
        yield [
            f"CR{index:09d}",
            f"{rng.choice(NAMES)} {rng.choice(SURNAMES)} {rng.choice(SURNAMES)}",
            f"{rng.randint(500, 250_000)}.{rng.randint(0, 99):02d}",
            rng.randint(1, 720),
            rng.choice(STREETS),
            str(rng.randint(1, 3000)),
            rng.choice(("", "", "A", "3B")),
            rng.choice(COLONIAS),
            f"{cp_prefix}{rng.randint(0, 999):03d}",
            municipality,
            state,
            f"55{rng.randint(10_000_000, 99_999_999)}",
            round(lat + rng.uniform(-0.05, 0.05), 6),
            round(lon + rng.uniform(-0.05, 0.05), 6),
        ]


def write_csv(path: Path, rows: int) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(HEADERS)
        writer.writerows(portfolio_rows(rows))


def write_xlsx(path: Path, rows: int) -> None:
    # constant_memory streams rows to disk, so a large sheet costs little RAM.
    workbook = xlsxwriter.Workbook(str(path), {"constant_memory": True})
    sheet = workbook.add_worksheet("Cartera")
    sheet.write_row(0, 0, HEADERS)
    for number, row in enumerate(portfolio_rows(rows), start=1):
        row[2] = float(row[2])  # balances as numbers, the way Excel keeps them
        sheet.write_row(number, 0, row)
    workbook.close()
