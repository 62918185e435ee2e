"""Requests built to slip past the API's checks: huge, misspelt, blank or NUL."""

import time
from collections.abc import AsyncIterator

import httpx
import pytest

from ingest.app import MULTIPART_OVERHEAD_BYTES, create_app
from ingest.settings import IngestSettings
from ingest.tenants import CreatedTenant
from tests.fixtures.apps import running_app
from tests.fixtures.portfolios import account_row, xlsx_bytes
from tests.fixtures.tenants import make_tenant
from tests.integration.ingest.helpers import brief_body, upload_rows
from tests.integration.ingest.test_payments import payment

MAX_UPLOAD_BYTES = 200_000
ONE_MIB = 1024 * 1024


@pytest.fixture(scope="module")
async def client():
    settings = IngestSettings(max_upload_bytes=MAX_UPLOAD_BYTES)
    async with running_app(create_app(settings)) as client:
        yield client


@pytest.fixture(scope="module")
async def tenant(client: httpx.AsyncClient) -> CreatedTenant:
    tenant = await make_tenant()
    await upload_rows(
        client, tenant.api_key.key, [account_row("H-1"), account_row("H-2")]
    )
    return tenant


@pytest.fixture
def headers(tenant: CreatedTenant) -> dict[str, str]:
    return {"X-API-Key": tenant.api_key.key}


def problem_text(response: httpx.Response) -> str:
    body = response.json()
    return " ".join(
        [body.get("detail", "")] + [e["message"] for e in body.get("errors", [])]
    )


async def chunks(total: int, size: int = 64 * 1024) -> AsyncIterator[bytes]:
    sent = 0
    while sent < total:
        yield b"x" * min(size, total - sent)
        sent += size


class TestBodySizeLimit:
    async def test_declared_length_rejected_unread(self, client) -> None:
        body = b'{"tags": ["' + b"a" * (20 * ONE_MIB) + b'"]}'
        started = time.monotonic()

        response = await client.patch("/accounts/H-1", content=body)

        assert response.status_code == 413
        assert response.headers["content-type"] == "application/problem+json"
        assert str(ONE_MIB) in response.json()["detail"]
        assert response.json()["max_bytes"] == ONE_MIB
        assert time.monotonic() - started < 5

    async def test_chunked_json_stops_at_limit(self, client) -> None:
        response = await client.patch(
            "/accounts/H-1",
            content=chunks(2 * ONE_MIB),
            headers={"Content-Type": "application/json"},
        )

        assert "content-length" not in response.request.headers
        assert response.status_code == 413, response.text
        assert response.json()["type"].endswith("/payload-too-large")
        assert str(ONE_MIB) in response.json()["detail"]

    async def test_chunked_multipart_stops_at_limit(self, client) -> None:
        boundary = "campo-boundary"
        limit = MAX_UPLOAD_BYTES + MULTIPART_OVERHEAD_BYTES

        async def multipart() -> AsyncIterator[bytes]:
            yield (
                f'--{boundary}\r\nContent-Disposition: form-data; name="file"; '
                'filename="cartera.csv"\r\n\r\n'
            ).encode()
            async for chunk in chunks(2 * limit):
                yield chunk

        response = await client.post(
            "/uploads",
            content=multipart(),
            headers={"Content-Type": f"multipart/form-data; boundary={boundary}"},
        )

        assert response.status_code == 413
        assert str(limit) in response.json()["detail"]

    async def test_upload_allows_more_than_json(self, client, headers) -> None:
        csv = "Cuenta,Nombre\n" + "X-1,Ana\n" * (ONE_MIB // 8 + 10)
        assert ONE_MIB < len(csv) < MAX_UPLOAD_BYTES * 10

        small = await client.post(
            "/uploads",
            headers=headers,
            files={"file": ("cartera.csv", csv[: MAX_UPLOAD_BYTES - 100])},
        )
        large = await client.post(
            "/uploads", headers=headers, files={"file": ("cartera.csv", csv)}
        )

        assert small.status_code != 413, small.text
        assert large.status_code == 413

    async def test_small_body_without_key_is_401(self, client) -> None:
        response = await client.patch("/accounts/H-1", json={"tags": ["vip"]})

        assert response.status_code == 401


class TestUnknownFields:
    async def test_misspelt_filter_names_valid_ones(self, client, headers) -> None:
        response = await client.post(
            "/campaigns/preview",
            headers=headers,
            json={"municipality": ["Zapopan"]},
        )

        assert response.status_code == 422, response.text
        text = problem_text(response)
        assert "unknown field municipality" in text
        assert "municipalities" in text

    @pytest.mark.parametrize(
        ("method", "path", "body", "unknown"),
        [
            ("PATCH", "/accounts/H-1", {"debtor_name": "Otro"}, "debtor_name"),
            ("PUT", "/visit-policy", {"bogus": 1}, "bogus"),
            ("PUT", "/upload-settings", {"on_error": "store_valid", "x": 1}, "x"),
            ("PUT", "/column-mappings", {"mapping": {}, "extra": 1}, "extra"),
            ("POST", "/payments", payment("T-9", account_key="H-1", x=1), "x"),
            ("POST", "/accounts/bulk", {"accounts": [], "dry_run": True}, "dry_run"),
        ],
    )
    async def test_extra_field_rejected(
        self, client, headers, method: str, path: str, body: dict, unknown: str
    ) -> None:
        response = await client.request(method, path, headers=headers, json=body)

        assert response.status_code == 422, response.text
        assert f"unknown field {unknown};" in problem_text(response)

    @pytest.mark.parametrize(
        ("change", "unknown"),
        [
            ({"fee_ammount": "150.00"}, "fee_ammount"),
            ({"negotation": {"max_discount_pct": "5"}}, "negotation"),
            ({"selection": {"all_accounts": True, "bogus": 1}}, "bogus"),
        ],
    )
    async def test_campaign_typo_rejected(
        self, client, headers, change: dict, unknown: str
    ) -> None:
        response = await client.post(
            "/campaigns", headers=headers, json=brief_body() | change
        )

        assert response.status_code == 422, response.text
        assert f"unknown field {unknown}" in problem_text(response)

    async def test_campaign_readme_shape_accepted(self, client, headers) -> None:
        response = await client.post("/campaigns", headers=headers, json=brief_body())

        assert response.status_code == 201, response.text


class TestBlankAndNulText:
    @pytest.mark.parametrize("reference", ["   ", "\t"])
    async def test_blank_reference_rejected(
        self, client, headers, reference: str
    ) -> None:
        response = await client.post(
            "/payments", headers=headers, json=payment(reference, account_key="H-1")
        )

        assert response.status_code == 422, response.text
        assert "reference is empty after trimming spaces" in problem_text(response)

    async def test_reference_is_trimmed(self, client, headers) -> None:
        response = await client.post(
            "/payments", headers=headers, json=payment("  T-77 ", account_key="H-1")
        )

        assert response.status_code == 201, response.text
        assert response.json()["reference"] == "T-77"

    async def test_blank_campaign_name_rejected(self, client, headers) -> None:
        response = await client.post(
            "/campaigns", headers=headers, json=brief_body() | {"name": "  "}
        )

        assert response.status_code == 422
        assert "name is empty after trimming spaces" in problem_text(response)

    @pytest.mark.parametrize(
        ("method", "path", "body", "field"),
        [
            ("POST", "/campaigns", brief_body() | {"name": "a\x00b"}, "name"),
            ("POST", "/accounts/H-2/recall", {"note": "a\x00b"}, "note"),
            ("POST", "/payments", payment("T-8", account_key="H\x001"), "account_key"),
        ],
    )
    async def test_nul_names_field(
        self, client, headers, method: str, path: str, body: dict, field: str
    ) -> None:
        response = await client.request(method, path, headers=headers, json=body)

        assert response.status_code == 422, response.text
        assert response.json()["type"].endswith("/validation-error")
        assert f"{field} contains a NUL character" in problem_text(response)


class TestRequestMessages:
    async def test_huge_offset_names_bound(self, client, headers) -> None:
        response = await client.get(
            "/accounts", headers=headers, params={"offset": "99999999999999999999"}
        )

        assert response.status_code == 422
        assert response.json()["errors"][0]["location"] == "query.offset"

    async def test_nul_in_search_names_q(self, client, headers) -> None:
        response = await client.get("/accounts", headers=headers, params={"q": "a\x00"})

        assert response.status_code == 422
        assert "q contains a NUL character" in response.json()["detail"]

    async def test_broken_json_says_so(self, client, headers) -> None:
        response = await client.post(
            "/payments",
            headers=headers | {"Content-Type": "application/json"},
            content=b"{bad",
        )

        assert response.status_code == 422
        assert "body is not valid JSON" in response.json()["detail"]
        assert "at character 1" in response.json()["detail"]

    async def test_upload_without_file_names_field(self, client, headers) -> None:
        response = await client.post(
            "/uploads", headers=headers, files={"other": ("x.csv", b"a,b\n")}
        )

        # The stray field is named first, with the field the file belongs in.
        assert response.status_code == 422
        detail = response.json()["detail"]
        assert "unknown form field 'other'" in detail
        assert "the valid ones are file, mapping" in detail

    async def test_upload_empty_body_names_field(self, client, headers) -> None:
        response = await client.post("/uploads", headers=headers)

        assert response.status_code == 422
        assert "multipart form field 'file'" in response.json()["detail"]

    async def test_json_missing_field_plain(self, client, headers) -> None:
        body = payment("T-5", account_key="H-1")
        del body["amount"]

        response = await client.post("/payments", headers=headers, json=body)

        assert response.status_code == 422
        assert "multipart" not in response.json()["detail"]
        assert response.json()["errors"][0]["location"] == "body.amount"


async def test_two_files_in_one_upload_rejected(client, headers) -> None:
    first = xlsx_bytes([account_row("TWO-1")])
    second = xlsx_bytes([account_row("TWO-2")])

    response = await client.post(
        "/uploads",
        headers=headers,
        files=[("file", ("a.xlsx", first)), ("file", ("b.xlsx", second))],
    )

    assert response.status_code == 422
    assert "2 files in the `file` field" in response.text
    missing = await client.get("/accounts/TWO-2", headers=headers)
    assert missing.status_code == 404


class TestSecretsNotEchoed:
    @pytest.mark.parametrize(
        ("path", "body"),
        [
            ("/auth/login", {"email": "luis@uno.mx", "password": 123456789012}),
            ("/auth/login", {"email": "luis@uno.mx", "password": "p" * 5000}),
            ("/auth/refresh", {"refresh_token": 98765432109}),
        ],
    )
    async def test_secret_left_out_of_the_error(
        self, client, path: str, body: dict
    ) -> None:
        response = await client.post(path, json=body)

        assert response.status_code == 422, response.text
        [error] = response.json()["errors"]
        assert error["input"] is None
        assert str(body[error["location"].split(".")[-1]])[:50] not in response.text

    async def test_other_inputs_still_shown(self, client, headers) -> None:
        response = await client.post(
            "/users",
            headers=headers,
            json={"email": "x@uno.mx", "name": "X", "role": "boss", "password": "s"},
        )

        assert response.status_code == 422
        assert {e["input"] for e in response.json()["errors"]} >= {"boss"}
        assert '"s"' not in response.text


class TestOneCredential:
    @pytest.mark.parametrize(
        "extra",
        [
            [("Authorization", "Bearer ck_other")],
            [("X-API-Key", "ck_other")],
        ],
    )
    async def test_second_credential_refused(self, client, headers, extra) -> None:
        sent = [*headers.items(), *extra]

        response = await client.get("/accounts", headers=sent)

        assert response.status_code == 401
        assert "carries 2 credentials" in response.json()["detail"]
        assert "send exactly one" in response.json()["detail"]

    async def test_one_credential_served(self, client, headers) -> None:
        response = await client.get("/accounts", headers=headers)

        assert response.status_code == 200


class TestUnknownFormFields:
    async def test_misspelt_form_field_names_the_valid_ones(
        self, client, headers
    ) -> None:
        response = await client.post(
            "/uploads",
            headers=headers,
            files={"file": ("cartera.xlsx", xlsx_bytes([account_row("F-1")]))},
            data={"mappnig": '{"Nombre": "account_key"}'},
        )

        assert response.status_code == 422, response.text
        message = response.json()["detail"]
        assert "unknown form field 'mappnig'" in message
        assert "file, mapping" in message

    async def test_known_form_fields_still_accepted(self, client, headers) -> None:
        response = await client.post(
            "/uploads",
            headers=headers,
            files={"file": ("cartera.xlsx", xlsx_bytes([account_row("F-2")]))},
        )

        assert response.status_code == 201, response.text
