import pytest

from ingest.uploads.archive import HostileArchiveError, check_xlsx_archive
from tests.fixtures import hostile_files
from tests.fixtures.portfolios import account_row, xlsx_bytes


class TestCheckXlsxArchive:
    def test_zip_bomb_rejected(self) -> None:
        content = hostile_files.zip_bomb_xlsx()

        with pytest.raises(HostileArchiveError) as raised:
            check_xlsx_archive(content)

        assert len(content) < 1024 * 1024
        assert "xl/sharedStrings2.xml" in str(raised.value)
        assert "ZIP bomb" in str(raised.value)

    def test_xml_bomb_rejected(self) -> None:
        with pytest.raises(HostileArchiveError) as raised:
            check_xlsx_archive(hostile_files.xml_bomb_xlsx())

        assert "xl/worksheets/sheet1.xml" in str(raised.value)
        assert "DOCTYPE" in str(raised.value)

    def test_ordinary_workbook_passes(self) -> None:
        rows = [account_row(f"A-{index}") for index in range(2000)]

        check_xlsx_archive(xlsx_bytes(rows))

    def test_csv_is_left_to_reader(self) -> None:
        check_xlsx_archive(b"Cuenta,Nombre\r\nA-1,Ana\r\n")
