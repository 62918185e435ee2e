"""Uploads that are not spreadsheets get a 422 that names their kind."""

import io
import zipfile

import pytest

from ingest.app import create_app
from tests.fixtures.apps import running_app
from tests.fixtures.tenants import make_tenant


@pytest.fixture
async def ingest_client():
    async with running_app(create_app()) as client:
        yield client


def many_member_zip(count: int) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for index in range(count):
            archive.writestr(f"f{index}", b"x")
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("filename", "content", "expected"),
    [
        ("cartera.xlsx", b"%PDF-1.4\n%%EOF\n", "the file is a PDF document"),
        ("cartera.xlsx", many_member_zip(2000), "a ZIP archive of 2000 files"),
    ],
)
async def test_upload_names_file_kind(ingest_client, filename, content, expected):
    tenant = await make_tenant()
    response = await ingest_client.post(
        "/uploads",
        headers={"X-API-Key": tenant.api_key.key},
        files={"file": (filename, content)},
    )

    assert response.status_code == 422, response.text
    assert expected in response.json()["detail"]
    assert "upload an XLSX, XLS or CSV file" in response.json()["detail"]
