import csv
import io

from ingest.uploads.report import ReportRow, UploadReport, csv_report


def report(*cells: str | None) -> UploadReport:
    return UploadReport(
        "cartera.xlsx",
        ["Cuenta", "Nombre"],
        [ReportRow(7, list(cells), "error (debtor_name): debtor_name is required")],
    )


def read(content: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(content.decode("utf-8-sig"))))


class TestCsvReport:
    def test_header_row_and_error_column(self) -> None:
        rows = read(csv_report(report("A-1", None)))

        assert rows[0] == ["Excel row", "Cuenta", "Nombre", "Errors"]
        assert rows[1][:3] == ["7", "A-1", ""]
        assert rows[1][3].startswith("error (debtor_name)")

    def test_formula_text_is_quoted(self) -> None:
        rows = read(csv_report(report("=HYPERLINK(1)", "@SUM(A1)")))

        assert rows[1][1] == "'=HYPERLINK(1)"
        assert rows[1][2] == "'@SUM(A1)"

    def test_negative_number_is_kept(self) -> None:
        rows = read(csv_report(report("-125.5", "+52")))

        assert rows[1][1] == "-125.5"
        assert rows[1][2] == "+52"

    def test_row_wider_than_headers_is_padded(self) -> None:
        rows = read(csv_report(report("A-1", "Ana", "extra")))

        assert rows[0] == ["Excel row", "Cuenta", "Nombre", "", "Errors"]
        assert rows[1][3] == "extra"
