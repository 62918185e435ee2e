"""Photos handed to callers without personal:read lose their EXIF position."""

import io
import struct
import zlib
from datetime import datetime

import pytest
from PIL import Image

from tests.fixtures.photos import make_image
from visits import images
from visits.photo_metadata import UnreadableContainerError, without_metadata

POSITION = (19.432534, -99.133213)
TAKEN = datetime(2026, 11, 20, 10, 30)
MEDIA = {"jpeg": "image/jpeg", "png": "image/png", "webp": "image/webp"}


def with_exif(kind: str) -> bytes:
    """Return an image with EXIF time and GPS, as a phone camera saves it."""
    photo = make_image(kind, position=POSITION, taken_at=TAKEN, size=(40, 30))
    if kind != "png":
        return photo
    # Pillow writes no EXIF into a PNG it saves; add the eXIf chunk by hand.
    with Image.open(io.BytesIO(make_image("jpeg", position=POSITION))) as jpeg:
        exif = jpeg.getexif().tobytes()
    chunk = b"eXIf" + exif
    packed = struct.pack(">I", len(exif)) + chunk + struct.pack(">I", zlib.crc32(chunk))
    end = photo.rindex(b"IEND") - 4
    return photo[:end] + packed + photo[end:]


@pytest.mark.parametrize("kind", ["jpeg", "png", "webp"])
def test_position_and_time_removed_pixels_kept(kind: str) -> None:
    original = with_exif(kind)
    with Image.open(io.BytesIO(original)) as opened:
        opened.load()
        assert opened.getexif().get_ifd(images.GPS_IFD)

    cleaned = without_metadata(MEDIA[kind], original)

    assert cleaned is not None
    with Image.open(io.BytesIO(cleaned)) as opened:
        opened.load()
        assert not opened.getexif().get_ifd(images.GPS_IFD)
    facts = images.read_facts(cleaned, kind)
    assert (facts.lat, facts.lon, facts.taken_at_local) == (None, None, None)
    with (
        Image.open(io.BytesIO(original)) as before,
        Image.open(io.BytesIO(cleaned)) as after,
    ):
        assert after.size == before.size
        assert after.tobytes() == before.tobytes()


def test_photo_without_metadata_unchanged_in_content() -> None:
    original = make_image("png", size=(8, 8))

    cleaned = without_metadata("image/png", original)

    assert cleaned == original


def test_heic_cannot_be_cleaned() -> None:
    assert without_metadata("image/heic", b"\x00\x00\x00\x18ftypheic") is None


@pytest.mark.parametrize(
    ("media_type", "data"),
    [
        ("image/jpeg", b"not a jpeg"),
        ("image/png", b"\x89PNG\r\n\x1a\n\x00\x00"),
        ("image/webp", b"RIFF\x00\x00\x00\x00WEBX"),
    ],
)
def test_broken_container_refused(media_type: str, data: bytes) -> None:
    with pytest.raises(UnreadableContainerError):
        without_metadata(media_type, data)
