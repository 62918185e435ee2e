"""An upload's error report shows a cell only where it is no debtor's data."""

from ingest.geocoding.base import AddressQuery
from ingest.uploads.issue_values import WITHHELD, reportable, reported_value
from ingest.uploads.normalize import RowIssue
from ingest.uploads.parsing import parse_file
from tests.fixtures.portfolios import account_row, csv_bytes


class TestReportedValue:
    def test_amounts_dates_and_zones_shown(self) -> None:
        assert reported_value("balance_overdue", "no sé") == "no sé"
        assert reported_value("last_payment_date", "31/02/2024") == "31/02/2024"
        assert reported_value("postal_code", "0660") == "0660"

    def test_name_phone_and_email_masked(self) -> None:
        assert reported_value("debtor_name", "Ana López") == "A*** L***"
        assert reported_value("phone", "55 1234 5678") == "55 12** **78"
        assert reported_value("correo", "ana.lopez@correo.mx") == "a***@***.mx"
        assert reported_value("telefono_2", "+52 55 1234 5678") == "+52 55 **** **78"

    def test_address_birth_date_and_extras_withheld(self) -> None:
        assert reported_value("street", "Av. Insurgentes Sur 1234") == WITHHELD
        assert reported_value("birth_date", "31/02/1980") == WITHHELD
        assert reported_value("latitude", "19.43, -99.13") == WITHHELD
        assert reported_value("notas", "debe a su cuñado") == WITHHELD

    def test_excel_errors_and_cell_references_shown(self) -> None:
        assert reported_value("debtor_name", "#N/A") == "#N/A"
        assert reported_value("street", "C12") == "C12"


class TestGeocoderZone:
    def test_unplaced_address_reported_by_its_zone(self) -> None:
        query = AddressQuery(
            street="Av. Insurgentes Sur",
            exterior_number="1234",
            colonia="Del Valle",
            municipality="Benito Juárez",
            state="Ciudad de México",
            postal_code="03100",
        )

        zone = query.zone_text()

        assert zone == "03100 Benito Juárez, Ciudad de México"
        assert reported_value("location", zone) == zone


class TestReportable:
    def test_copy_of_the_cell_in_the_message_is_masked_too(self) -> None:
        issue = RowIssue(
            "birth_date", "31/02/1980", "31/02/1980 is not a calendar date"
        )

        shown = reportable(issue)

        assert shown.value == WITHHELD
        assert "1980" not in shown.message
        assert shown.message.endswith("is not a calendar date")

    def test_issue_about_a_shown_column_is_unchanged(self) -> None:
        issue = RowIssue("balance_overdue", "no sé", "no sé is not an amount")

        assert reportable(issue) is issue

    def test_parsed_rows_report_no_name_phone_or_street(self) -> None:
        name = "Guadalupe " * 40
        rows = [
            account_row("R-1", name=name.strip(), phone="987"),
            account_row("R-2", lat="norte", lon="-99.1"),
            account_row("R-3", balance="no sé"),
        ]
        parsed = parse_file(csv_bytes(rows), max_rows=10)

        issues = [reportable(issue) for row in parsed.rows for issue in row.issues]
        text = repr(issues)

        assert "Guadalupe" not in text
        assert "987" not in text
        assert "norte" not in text
        assert "no sé" in text
        assert {issue.column for issue in issues} >= {
            "debtor_name",
            "phone",
            "latitude",
            "balance_overdue",
        }
