"""Rows and cells of files that other programs damaged or padded."""

from ingest.uploads.parsing import parse_file

RAGGED_HEADER = "Cuenta,Nombre,Saldo,Días de Atraso,Calle,Colonia,CP,Estado"


def parse_csv(lines: list[str], encoding: str = "utf-8"):
    content = ("\r\n".join(lines) + "\r\n").encode(encoding)
    return parse_file(content, max_rows=100)


class TestRaggedCsvRows:
    def test_short_row_keeps_missing_fields(self):
        [row] = parse_csv([RAGGED_HEADER, "R1,Ana,150"]).rows

        assert row.account is not None
        assert row.account.balance_overdue is not None
        kept = row.account.kept_fields
        assert {"days_past_due", "street", "colonia", "postal_code"} <= kept
        assert "state" in kept
        assert "balance_overdue" not in kept

    def test_short_row_gets_one_warning(self):
        [row] = parse_csv([RAGGED_HEADER, "R1,Ana,150"]).rows

        [issue] = row.issues
        assert issue.severity == "warning"
        assert issue.column == "days_past_due"
        assert "row 2 has 3 cells but the header has 8" in issue.message

    def test_full_row_keeps_nothing_extra(self):
        [row] = parse_csv([RAGGED_HEADER, "R1,Ana,150,30,a,b,06000,CDMX"]).rows

        assert row.issues == []
        assert row.account is not None
        assert "street" not in row.account.kept_fields

    def test_trailing_blank_header_cells_ignored(self):
        [row] = parse_csv(["Cuenta,Nombre,Saldo,,", "R1,Ana,150"]).rows

        assert row.issues == []

    def test_long_row_names_ignored_cells(self):
        line = "R2,Ana,100,30,a,b,06000,CDMX,x,,z"
        [row] = parse_csv([RAGGED_HEADER, line]).rows

        assert row.account is not None
        [issue] = row.issues
        assert issue.severity == "warning"
        assert issue.column == "I"
        assert issue.value == "x"
        assert "row 2 has 11 cells but the header has 8" in issue.message
        assert "I2, K2" in issue.message

    def test_long_row_of_blank_cells_passes(self):
        [row] = parse_csv([RAGGED_HEADER, "R2,Ana,100,30,a,b,06000,CDMX,,"]).rows

        assert row.issues == []
