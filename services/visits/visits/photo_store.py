"""Photo stores, keyed by SHA-256, so the same bytes are kept once.

The local store is the default and the S3-compatible store is the
production option. Both implement the same two calls, and a put of bytes
already stored changes nothing.
"""

import asyncio
import os
import tempfile
from pathlib import Path
from typing import Any, Protocol

from shared.runtime import ServiceRuntime
from visits.settings import VisitsSettings

STORE_KEY = "photo_store"


class PhotoStore(Protocol):
    async def put(self, sha256: str, data: bytes, *, content_type: str) -> None:
        """Keep `data` under its digest; a second put of the same digest is a no-op."""
        ...

    async def get(self, sha256: str) -> bytes | None:
        """Return the bytes kept under the digest, or None when there are none."""
        ...


class LocalPhotoStore:
    """Files under `root/ab/cd/<digest>`, written to a temporary name then renamed.

    The rename is atomic on one file system, so a reader never sees half a
    photo, and two writers of the same bytes leave one whole file.
    """

    def __init__(self, root: Path) -> None:
        self.root = root

    def path_of(self, sha256: str) -> Path:
        return self.root / sha256[:2] / sha256[2:4] / sha256

    async def put(self, sha256: str, data: bytes, *, content_type: str) -> None:
        await asyncio.to_thread(self._write, sha256, data)

    async def get(self, sha256: str) -> bytes | None:
        return await asyncio.to_thread(self._read, sha256)

    def _write(self, sha256: str, data: bytes) -> None:
        target = self.path_of(sha256)
        if target.exists():
            return
        target.parent.mkdir(parents=True, exist_ok=True)
        descriptor, temporary = tempfile.mkstemp(dir=target.parent, prefix=".part-")
        try:
            with os.fdopen(descriptor, "wb") as file:
                file.write(data)
                file.flush()
                os.fsync(file.fileno())
            os.replace(temporary, target)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise

    def _read(self, sha256: str) -> bytes | None:
        try:
            return self.path_of(sha256).read_bytes()
        except FileNotFoundError:
            return None


class S3PhotoStore:
    """Objects `<prefix><digest>` in one bucket of an S3-compatible store.

    boto3 is synchronous, so each call runs in a worker thread. Credentials
    come from boto3's usual sources (environment, profile, instance role).
    """

    def __init__(self, client: Any, *, bucket: str, prefix: str) -> None:
        self.client = client
        self.bucket = bucket
        self.prefix = prefix

    def key_of(self, sha256: str) -> str:
        return f"{self.prefix}{sha256}"

    async def put(self, sha256: str, data: bytes, *, content_type: str) -> None:
        await asyncio.to_thread(self._put, sha256, data, content_type)

    async def get(self, sha256: str) -> bytes | None:
        return await asyncio.to_thread(self._get, sha256)

    def _put(self, sha256: str, data: bytes, content_type: str) -> None:
        if self._exists(sha256):
            return
        # S3 writes an object whole or not at all, so no temporary key is needed.
        self.client.put_object(
            Bucket=self.bucket,
            Key=self.key_of(sha256),
            Body=data,
            ContentType=content_type,
        )

    def _exists(self, sha256: str) -> bool:
        try:
            self.client.head_object(Bucket=self.bucket, Key=self.key_of(sha256))
        except self.client.exceptions.ClientError as error:
            if error.response.get("Error", {}).get("Code") in ("404", "NoSuchKey"):
                return False
            raise
        return True

    def _get(self, sha256: str) -> bytes | None:
        try:
            answer = self.client.get_object(Bucket=self.bucket, Key=self.key_of(sha256))
        except self.client.exceptions.NoSuchKey:
            return None
        body: bytes = answer["Body"].read()
        return body


def build_photo_store(settings: VisitsSettings) -> PhotoStore:
    if settings.photo_store == "local":
        return LocalPhotoStore(settings.photo_dir)
    if not settings.photo_s3_bucket:
        raise ValueError(
            "VISITS_PHOTO_STORE is s3 but VISITS_PHOTO_S3_BUCKET is empty; "
            "set the bucket name or use the local store"
        )
    import boto3  # imported here: the local store needs no AWS SDK at start

    client = boto3.client("s3", endpoint_url=settings.photo_s3_endpoint_url)
    return S3PhotoStore(
        client, bucket=settings.photo_s3_bucket, prefix=settings.photo_s3_prefix
    )


def photo_store(runtime: ServiceRuntime) -> PhotoStore:
    """Return the runtime's photo store, built on first use."""
    store = runtime.state.get(STORE_KEY)
    if store is None:
        settings = runtime.settings
        if not isinstance(settings, VisitsSettings):
            raise TypeError("the visits runtime must be built with VisitsSettings")
        store = runtime.state[STORE_KEY] = build_photo_store(settings)
    return store  # type: ignore[no-any-return]
