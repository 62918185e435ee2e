"""Cells, writers, names and format choice of campaign exports, without a server."""

import csv
import io
import uuid
import zipfile
from dataclasses import replace
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import openpyxl
import pytest

from reporting.export_csv import CsvExport
from reporting.export_rows import HEADERS, RowContext, neutralise, visit_cells
from reporting.export_service import (
    NotAcceptableError,
    ascii_slug,
    content_disposition,
    negotiate_format,
)
from reporting.export_xlsx import XlsxExport, column_letters, excel_serial
from reporting.settings import ReportingSettings

XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
CONTEXT = RowContext(ZoneInfo("America/Mexico_City"), "https://visitas.example/")


def stored_visit(**changes: Any) -> dict[str, Any]:
    row: dict[str, Any] = dict.fromkeys(
        (
            "first_check_in_at person_met contact debtor_lives_there promise_amount"
            " promise_currency cancel_reason address address_zone address_lat"
            " address_lon"
            " agent_id check_in_lat check_in_lon check_in_distance_m"
            " check_in_accuracy_m check_in_verified result_code notes new_phone"
            " promise_due_date flagged photo_ids reported_phones completed_at"
        ).split()
    )
    row |= {
        "visit_id": uuid.UUID(int=7),
        "state": "completed",
        "requested_at": datetime(2026, 12, 1, 18, 30, tzinfo=UTC),
        "account_key": "ACC-1",
        "debtor_name": "Ana Pérez",
    }
    return row | changes


def cell(row: dict[str, Any], header: str) -> object:
    return visit_cells(row, CONTEXT)[HEADERS.index(header)]


def xlsx_rows(rows: list[list[Any]]) -> list[tuple[object, ...]]:
    writer = XlsxExport()
    data = writer.start() + writer.rows(rows) + writer.finish()
    book = openpyxl.load_workbook(io.BytesIO(data), read_only=True)
    return list(book["Visitas"].iter_rows(values_only=True))


class TestNeutralise:
    @pytest.mark.parametrize(
        "text", ["=1+1", "+52 55", "-2+3", "@SUM(A1)", "\tx", "\rx"]
    )
    def test_formula_starts_get_a_quote(self, text: str) -> None:
        assert neutralise(text) == "'" + text

    @pytest.mark.parametrize("text", ["Ana", "", "1+1", " =1", "José"])
    def test_other_text_is_unchanged(self, text: str) -> None:
        assert neutralise(text) == text


class TestVisitCells:
    def test_masked_context_masks_name_and_phones(self) -> None:
        row = stored_visit(
            new_phone="+525511112222",
            reported_phones=[
                {"number": "+525533334444", "kind": "home", "owner": "self"}
            ],
        )
        masked = replace(CONTEXT, mask_personal=True)

        cells = visit_cells(row, masked)
        full = visit_cells(row, CONTEXT)

        assert cells[HEADERS.index("Deudor")] == "A*** P***"
        assert cells[HEADERS.index("Teléfonos nuevos")] == (
            "'+5255******22; +5255******44 (casa, titular)"
        )
        assert full[HEADERS.index("Deudor")] == "Ana Pérez"
        assert "+525533334444" in str(full[HEADERS.index("Teléfonos nuevos")])

    def test_masked_context_keeps_the_zone_of_the_address_only(self) -> None:
        row = stored_visit(
            address="Av. Juárez 12 int. 3, Centro, Cuauhtémoc, CDMX, C.P. 06000",
            address_zone="Cuauhtémoc, CDMX, C.P. 06000",
            notes="la vecina dice que trabaja en el mercado",
            check_in_lat=19.432608,
            check_in_lon=-99.133209,
            address_lat=19.4327,
            address_lon=-99.1331,
        )
        masked = replace(CONTEXT, mask_personal=True)

        cells = dict(zip(HEADERS, visit_cells(row, masked), strict=True))
        full = dict(zip(HEADERS, visit_cells(row, CONTEXT), strict=True))

        assert cells["Dirección"] == "Cuauhtémoc, CDMX, C.P. 06000"
        assert cells["Notas"] == "***"
        assert (cells["Latitud"], cells["Longitud"]) == (19.43, -99.13)
        assert cells["Latitud del domicilio"] == 19.43
        assert full["Dirección"] == row["address"]
        assert full["Notas"] == row["notes"]
        assert full["Latitud"] == 19.432608

    def test_masked_address_stored_without_zone_is_hidden(self) -> None:
        row = stored_visit(address="Av. Juárez 12, Centro")
        masked = replace(CONTEXT, mask_personal=True)

        assert visit_cells(row, masked)[HEADERS.index("Dirección")] == "***"

    def test_times_local_without_zone(self) -> None:
        # 18:30 UTC on 1 December is 12:30 in Mexico City (UTC-6).
        assert cell(stored_visit(), "Fecha de solicitud") == datetime(
            2026, 12, 1, 12, 30
        )

    def test_negative_amount_stays_a_number(self) -> None:
        row = stored_visit(promise_amount=Decimal("-250.50"))
        assert cell(row, "Promesa: monto") == Decimal("-250.50")

    def test_phones_name_kind_and_owner(self) -> None:
        phone = {"number": "+523312345678", "kind": "home", "owner": "relative"}
        row = stored_visit(new_phone="+525500000000", reported_phones=[phone])
        assert cell(row, "Teléfonos nuevos") == (
            "'+525500000000; +523312345678 (casa, familiar)"
        )

    def test_evidence_links_photo_urls(self) -> None:
        photo = uuid.UUID(int=9)
        row = stored_visit(photo_ids=[photo])
        assert cell(row, "Evidencias") == (
            f"https://visitas.example/visits/{uuid.UUID(int=7)}/photos/{photo}"
        )

    def test_states_and_people_are_spanish(self) -> None:
        row = stored_visit(state="out_of_coverage", person_met="guarantor")
        assert cell(row, "Estado") == "Fuera de cobertura"
        assert cell(row, "Persona contactada") == "Aval"


class TestCsvExport:
    def test_bom_crlf_and_rfc4180_quotes(self) -> None:
        writer = CsvExport()
        row = ['Dice "hola", adiós', None, date(2026, 12, 20), Decimal("-3.50")]
        data = writer.start() + writer.rows([row]) + writer.finish()

        assert data.startswith(b"\xef\xbb\xbf")
        lines = data.decode("utf-8-sig").split("\r\n")
        assert lines[1] == '"Dice ""hola"", adiós",,2026-12-20,-3.50'
        assert next(csv.reader(io.StringIO(lines[0]))) == list(HEADERS)


class TestXlsxExport:
    def test_pieces_form_one_zip(self) -> None:
        writer = XlsxExport()
        pieces = [writer.start(), writer.rows([["x"]]), writer.finish()]

        assert all(pieces[0::2])
        names = zipfile.ZipFile(io.BytesIO(b"".join(pieces))).namelist()
        assert "xl/worksheets/sheet1.xml" in names

    def test_types_survive_a_round_trip(self) -> None:
        moment = datetime(2026, 12, 1, 12, 30)
        cells = {
            "Deudor": "'=1+1",
            "Promesa: monto": Decimal("-250.50"),
            "Fecha de visita": moment,
            "Promesa: fecha": date(2026, 12, 20),
            "Notas": "a\x01b\r\nc",
        }
        row = [cells.get(header) for header in HEADERS]
        header, values = xlsx_rows([row])

        assert header == HEADERS
        # A read-only sheet ends each row at its last cell with a value.
        read = dict(zip(HEADERS, values, strict=False))
        assert {name: read[name] for name in cells} == {
            "Deudor": "'=1+1",
            "Promesa: monto": -250.5,
            "Fecha de visita": moment,
            "Promesa: fecha": datetime(2026, 12, 20),
            "Notas": "ab\r\nc",
        }
        assert read["Cuenta"] is None
        assert len(values) == HEADERS.index("Notas") + 1

    def test_column_letters_past_z(self) -> None:
        assert [column_letters(i) for i in (0, 25, 26, 701, 702)] == [
            "A",
            "Z",
            "AA",
            "ZZ",
            "AAA",
        ]

    def test_excel_serial_of_known_dates(self) -> None:
        assert excel_serial(date(1900, 3, 1)) == 61
        assert excel_serial(datetime(2026, 1, 1, 12)) == 46023.5


class TestFileName:
    def test_ascii_name_and_exact_utf8_name(self) -> None:
        header = content_disposition('Año "Ñuñoa"/2', date(2026, 12, 5), "csv")
        assert header == (
            'attachment; filename="campana-ano-nunoa-2-2026-12-05.csv"; '
            "filename*=UTF-8''campa%C3%B1a-A%C3%B1o-%C3%91u%C3%B1oa-2-2026-12-05.csv"
        )

    def test_symbols_only_name_fallback(self) -> None:
        assert ascii_slug("¡¿!?") == "exportacion"


class TestNegotiateFormat:
    @pytest.mark.parametrize(
        ("accept", "expected"),
        [
            (None, "csv"),
            ("*/*", "csv"),
            ("text/csv", "csv"),
            (XLSX_TYPE, "xlsx"),
            (f"text/csv;q=0.5, {XLSX_TYPE}", "xlsx"),
            (f"application/json, {XLSX_TYPE};q=0.1", "xlsx"),
        ],
    )
    def test_accept_picks_the_format(self, accept: str | None, expected: str) -> None:
        assert negotiate_format(accept) == expected

    def test_unknown_media_type_is_not_acceptable(self) -> None:
        with pytest.raises(NotAcceptableError, match="application/pdf"):
            negotiate_format("application/pdf")


class TestExportSettings:
    def test_unknown_time_zone_rejected(self) -> None:
        with pytest.raises(ValueError, match="REPORTING_EXPORT_TIME_ZONE"):
            ReportingSettings(export_time_zone="Mexico/Narnia")
