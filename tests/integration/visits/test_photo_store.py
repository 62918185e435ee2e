"""One contract for every photo store: the local directory and S3 (a moto server)."""

import asyncio
import hashlib
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import boto3
import pytest
import pytest_asyncio
from moto.server import ThreadedMotoServer

from visits.photo_store import (
    LocalPhotoStore,
    PhotoStore,
    S3PhotoStore,
    build_photo_store,
)
from visits.settings import VisitsSettings

BUCKET = "campo-photos"


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    """A moto S3 server on a free port of 127.0.0.1, for this module only."""
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def fake_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    # Credentials in the environment, so boto3 looks nowhere else for them.
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


@pytest_asyncio.fixture(params=["local", "s3"])
async def store(
    request: pytest.FixtureRequest, tmp_path: Path, fake_credentials: None
) -> AsyncIterator[PhotoStore]:
    if request.param == "local":
        yield LocalPhotoStore(tmp_path)
        return
    endpoint = request.getfixturevalue("s3_endpoint")
    client = boto3.client("s3", endpoint_url=endpoint)
    await asyncio.to_thread(client.create_bucket, Bucket=BUCKET)
    yield S3PhotoStore(client, bucket=BUCKET, prefix=f"{tmp_path.name}/")


def files_under(root: Path) -> list[Path]:
    return [path for path in root.rglob("*") if path.is_file()]


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class TestPhotoStoreContract:
    async def test_put_then_get_returns_bytes(self, store: PhotoStore) -> None:
        data = b"\xff\xd8\xff photo bytes"
        await store.put(digest(data), data, content_type="image/jpeg")
        assert await store.get(digest(data)) == data

    async def test_missing_digest_returns_none(self, store: PhotoStore) -> None:
        assert await store.get(digest(b"never stored")) is None

    async def test_second_put_keeps_first_bytes(self, store: PhotoStore) -> None:
        data = b"first"
        await store.put(digest(data), data, content_type="image/jpeg")
        await store.put(digest(data), b"other", content_type="image/jpeg")
        assert await store.get(digest(data)) == data


class TestLocalStore:
    async def test_no_temporary_file_left(self, tmp_path: Path) -> None:
        store = LocalPhotoStore(tmp_path)
        data = b"bytes"
        await store.put(digest(data), data, content_type="image/png")
        assert files_under(tmp_path) == [store.path_of(digest(data))]


class TestBuildPhotoStore:
    def test_s3_without_bucket_rejected(self) -> None:
        with pytest.raises(ValueError, match="VISITS_PHOTO_S3_BUCKET"):
            build_photo_store(VisitsSettings(photo_store="s3"))

    def test_s3_settings_build_s3_store(
        self, s3_endpoint: str, fake_credentials: None
    ) -> None:
        settings = VisitsSettings(
            photo_store="s3", photo_s3_bucket=BUCKET, photo_s3_endpoint_url=s3_endpoint
        )
        store = build_photo_store(settings)
        assert isinstance(store, S3PhotoStore)
        assert store.bucket == BUCKET
