import uuid

import httpx
import pytest

from ingest.app import create_app
from ingest.settings import IngestSettings
from shared.events import topics
from tests.fixtures.apps import running_app
from tests.fixtures.events import read_events
from tests.fixtures.geocoding_provider import Reply, place, running_provider
from tests.fixtures.portfolios import account_row, xlsx_bytes
from tests.fixtures.tenants import make_tenant


def located(key: str, colonia: str, municipality: str, state: str) -> list[object]:
    return account_row(
        key,
        lat=None,
        lon=None,
        postal_code=None,
        colonia=colonia,
        municipality=municipality,
        state=state,
    )


async def upload_rows(
    client: httpx.AsyncClient, api_key: str, rows: list[list[object]]
) -> dict[str, object]:
    response = await client.post(
        "/uploads",
        headers={"X-API-Key": api_key},
        files={"file": ("cartera.xlsx", xlsx_bytes(rows))},
    )
    assert response.status_code == 201, response.text
    return response.json()


async def stored(client: httpx.AsyncClient, api_key: str, key: str) -> dict:
    response = await client.get(f"/accounts/{key}", headers={"X-API-Key": api_key})
    assert response.status_code == 200, response.text
    return response.json()


def warnings_on_row(report: dict, row: int) -> list[dict]:
    return [e for e in report["errors"] if e["row"] == row]


@pytest.fixture
async def ingest_client():
    async with running_app(create_app()) as client:
        yield client


class TestGazetteerUpload:
    async def test_accounts_without_coordinates_placed(self, ingest_client):
        tenant = await make_tenant()
        api_key = tenant.api_key.key
        rows = [
            account_row(
                "F-1",
                lat=32.5027,
                lon=-117.00371,
                postal_code=22000,
                colonia="Zona Centro",
                municipality="Tijuana",
                state="Baja California",
            ),
            located("G-1", "Del Valle", "Benito Juárez", "CDMX"),
            located("G-2", "", "Tijuana", "B.C."),
            located("G-3", "", "Cancún", "Q. Roo"),
            located("G-4", "", "Hermosillo", "Sonora"),
            located("G-5", "", "Juárez", "Chihuahua"),
        ]
        report = await upload_rows(ingest_client, api_key, rows)
        assert report["rows_valid"] == 6
        assert report["errors"] == []

        from_file = await stored(ingest_client, api_key, "F-1")
        assert from_file["location"] == {"lat": 32.5027, "lon": -117.00371}
        assert from_file["location_precision"] == "rooftop"
        assert from_file["location_source"] == "file"
        assert from_file["location_status"] == "placed"
        assert from_file["time_zone"] == "America/Tijuana"

        expected_zones = {
            "G-1": "America/Mexico_City",
            "G-2": "America/Tijuana",
            "G-3": "America/Cancun",
            "G-4": "America/Hermosillo",
            "G-5": "America/Ciudad_Juarez",
        }
        for key, zone in expected_zones.items():
            account = await stored(ingest_client, api_key, key)
            assert account["location"] is not None, key
            assert account["location_precision"] == "locality", key
            assert account["location_source"] == "gazetteer", key
            assert account["location_status"] == "placed", key
            assert account["time_zone"] == zone, key
        colonia = await stored(ingest_client, api_key, "G-1")
        assert colonia["location"] == {"lat": 19.38611, "lon": -99.16204}

    async def test_balance_update_keeps_geocode(self, ingest_client):
        api_key = (await make_tenant()).api_key.key
        await upload_rows(
            ingest_client, api_key, [located("U-1", "", "Cancún", "Q. Roo")]
        )
        before = await stored(ingest_client, api_key, "U-1")
        balance_only = b"Cuenta,Nombre,Saldo\r\nU-1,Ana Ruiz,900.00\r\n"

        response = await ingest_client.post(
            "/uploads",
            headers={"X-API-Key": api_key},
            files={"file": ("saldos.csv", balance_only)},
        )

        assert response.status_code == 201, response.text
        assert response.json()["errors"] == []
        after = await stored(ingest_client, api_key, "U-1")
        assert after["balance_overdue"] == "900.00"
        for field in ("location", "location_source", "location_status", "time_zone"):
            assert after[field] == before[field], field
        assert after["location_source"] == "gazetteer"

    async def test_unplaceable_account_stored_and_flagged(self, ingest_client):
        tenant = await make_tenant()
        api_key = tenant.api_key.key
        rows = [
            located("U-1", "Colonia Inexistente", "Municipio Inexistente", "Chih."),
            located("U-2", "Narnia", "Atlantis", "Texas"),
        ]
        report = await upload_rows(ingest_client, api_key, rows)
        assert report["rows_valid"] == 2
        assert report["accounts_created"] == 2

        unplaced = await stored(ingest_client, api_key, "U-1")
        assert unplaced["location"] is None
        assert unplaced["location_precision"] is None
        assert unplaced["location_source"] is None
        assert unplaced["location_status"] == "unplaced"
        assert unplaced["time_zone"] == "America/Chihuahua"
        row_warnings = warnings_on_row(report, 2)
        assert {w["column"] for w in row_warnings} == {"location", "time_zone"}
        assert all(w["severity"] == "warning" for w in row_warnings)
        location_warning = next(w for w in row_warnings if w["column"] == "location")
        assert "Municipio Inexistente" in location_warning["message"]
        assert "Municipio Inexistente" in location_warning["value"]
        zone_warning = next(w for w in row_warnings if w["column"] == "time_zone")
        assert "border municipalities of Chihuahua" in zone_warning["message"]

        nowhere = await stored(ingest_client, api_key, "U-2")
        assert nowhere["location_status"] == "unplaced"
        assert nowhere["time_zone"] is None
        assert {w["column"] for w in warnings_on_row(report, 3)} == {
            "location",
            "state",
            "time_zone",
        }

    async def test_account_event_carries_location(self, ingest_client):
        tenant = await make_tenant()
        rows = [
            located("E-1", "", "Zapopan", "Jalisco"),
            located("E-2", "", "Atlantis", "Jalisco"),
        ]
        await upload_rows(ingest_client, tenant.api_key.key, rows)
        tenant_id = str(tenant.tenant_id)
        events = await read_events(
            topics.ACCOUNTS,
            count=2,
            where=lambda e: e.data.get("tenant_id") == tenant_id,
        )
        by_key = {event.data["account_key"]: event.data for event in events}
        assert by_key["E-1"]["location"] is not None
        assert by_key["E-1"]["location_precision"] == "locality"
        assert by_key["E-1"]["location_source"] == "gazetteer"
        assert by_key["E-1"]["time_zone"] == "America/Mexico_City"
        assert by_key["E-2"]["location"] is None
        assert by_key["E-2"]["location_precision"] is None
        assert by_key["E-2"]["time_zone"] == "America/Mexico_City"


class TestNominatimUpload:
    async def test_provider_places_and_failure_falls_back(self):
        found, failing, missing = (uuid.uuid4().hex[:8] for _ in range(3))
        with running_provider() as provider:
            provider.replies[found] = Reply(places=[place(20.6767, -103.3475)])
            provider.replies[failing] = Reply(status=500)
            provider.replies[missing] = Reply(status=500)
            settings = IngestSettings(
                geocoder="nominatim",
                nominatim_url=provider.url,
                nominatim_requests_per_second=50,
            )
            async with running_app(create_app(settings)) as client:
                tenant = await make_tenant()
                api_key = tenant.api_key.key
                rows = [
                    located("N-1", f"Colonia {found}", "Guadalajara", "Jalisco"),
                    located("N-2", f"Colonia {failing}", "Zapopan", "Jalisco"),
                    located("N-3", f"Colonia {missing}", "Atlantis", "Jalisco"),
                ]
                report = await upload_rows(client, api_key, rows)
                provided = await stored(client, api_key, "N-1")
                fallback = await stored(client, api_key, "N-2")
                unplaced = await stored(client, api_key, "N-3")

        assert report["rows_valid"] == 3
        assert provided["location"] == {"lat": 20.6767, "lon": -103.3475}
        assert provided["location_precision"] == "rooftop"
        assert provided["location_source"] == "nominatim"
        assert provided["time_zone"] == "America/Mexico_City"
        assert fallback["location_source"] == "gazetteer"
        assert fallback["location_status"] == "placed"
        assert warnings_on_row(report, 3) == []
        assert unplaced["location_status"] == "unplaced"
        [location_warning] = [
            w for w in warnings_on_row(report, 4) if w["column"] == "location"
        ]
        assert "HTTP 500" in location_warning["message"]


class TestFileCoordinatesChecked:
    async def test_foreign_point_geocoded_instead(self, ingest_client):
        tenant = await make_tenant()
        api_key = tenant.api_key.key
        rows = [
            account_row(
                "NY-1",
                lat=40.7,
                lon=-74.0,
                colonia="Del Valle",
                municipality="Benito Juárez",
                state="CDMX",
            ),
            account_row("NA-1", state="Narnia"),
        ]

        report = await upload_rows(ingest_client, api_key, rows)

        foreign = " ".join(e["message"] for e in warnings_on_row(report, 2))
        assert "40.70000, -74.00000 are outside Mexico" in foreign
        account = await stored(ingest_client, api_key, "NY-1")
        assert account["time_zone"] == "America/Mexico_City"
        assert account["location_source"] == "gazetteer"
        assert 19 < account["location"]["lat"] < 20
        narnia = " ".join(e["message"] for e in warnings_on_row(report, 3))
        assert "'Narnia' is not a Mexican state" in narnia
        assert "Jalisco" in narnia
