import struct
import zlib
from datetime import UTC, datetime, timedelta

import pytest

from tests.fixtures.photos import HEIC_HEADER, make_image
from visits import images


class TestSniffKind:
    @pytest.mark.parametrize("kind", ["jpeg", "png", "webp"])
    def test_pillow_formats_known_by_bytes(self, kind: str) -> None:
        assert images.sniff_kind(make_image(kind)) == kind

    def test_heic_known_by_its_ftyp_box(self) -> None:
        assert images.sniff_kind(HEIC_HEADER) == "heic"

    @pytest.mark.parametrize(
        "data", [b"", b"%PDF-1.7 not a photo", b"GIF89a" + b"\x00" * 20]
    )
    def test_other_bytes_unknown(self, data: bytes) -> None:
        assert images.sniff_kind(data) is None


class TestReadFacts:
    def test_exif_time_and_position_kept(self) -> None:
        taken = datetime(2026, 12, 4, 10, 30, 15)
        data = make_image(taken_at=taken, offset="-06:00", position=(19.4326, -99.1332))
        facts = images.read_facts(data, "jpeg")
        assert facts.width == 32
        assert facts.height == 24
        assert facts.taken_at_local is not None
        assert facts.taken_at_local.astimezone(UTC) == datetime(
            2026, 12, 4, 16, 30, 15, tzinfo=UTC
        )
        assert facts.lat == pytest.approx(19.4326, abs=1e-4)
        assert facts.lon == pytest.approx(-99.1332, abs=1e-4)

    def test_naive_exif_time_placed_with_device_offset(self) -> None:
        data = make_image(taken_at=datetime(2026, 12, 4, 10, 0))
        facts = images.read_facts(data, "jpeg")
        assert facts.taken_at_local is not None and facts.taken_at_local.tzinfo is None
        placed = images.taken_at_utc(facts.taken_at_local, timedelta(hours=-6))
        assert placed == datetime(2026, 12, 4, 16, 0, tzinfo=UTC)

    @pytest.mark.parametrize(
        ("local", "offset"),
        [
            (datetime(9999, 12, 31, 23, 0), timedelta(hours=-6)),
            (datetime(1, 1, 1, 0, 30), timedelta(hours=14)),
        ],
    )
    def test_time_outside_the_calendar_in_utc_dropped(
        self, local: datetime, offset: timedelta
    ) -> None:
        assert images.taken_at_utc(local, offset) is None

    def test_time_at_calendar_end_in_utc_kept(self) -> None:
        local = datetime(9999, 12, 31, 23, 0)
        placed = images.taken_at_utc(local, timedelta(hours=6))
        assert placed == datetime(9999, 12, 31, 17, 0, tzinfo=UTC)

    def test_photo_without_exif_has_no_time_or_position(self) -> None:
        facts = images.read_facts(make_image("png"), "png")
        assert (facts.taken_at_local, facts.lat, facts.lon) == (None, None, None)

    def test_truncated_jpeg_is_unreadable(self) -> None:
        with pytest.raises(images.UnreadableImageError):
            images.read_facts(b"\xff\xd8\xff\xe0" + b"\x00" * 10, "jpeg")


def png_declaring(width: int, height: int) -> bytes:
    """Return a PNG whose header declares `width` x `height` with almost no data."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data) & 0xFFFFFFFF
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\x00" * 1024))
        + chunk(b"IEND", b"")
    )


class TestDecode:
    def test_garbage_scan_data_unreadable(self) -> None:
        image = make_image(size=(640, 480))
        start_of_scan = image.index(b"\xff\xda")
        data = image[: start_of_scan + 20] + b"\x13\x37" * 3000
        with pytest.raises(images.UnreadableImageError, match="truncated"):
            images.read_facts(data, "jpeg")

    def test_whole_jpeg_keeps_full_size(self) -> None:
        facts = images.read_facts(make_image(size=(640, 480)), "jpeg")
        assert (facts.width, facts.height) == (640, 480)

    @pytest.mark.parametrize("size", [(1, 1), (7, 3), (1, 640)])
    def test_tiny_jpeg_read(self, size: tuple[int, int]) -> None:
        facts = images.read_facts(make_image(size=size), "jpeg")

        assert (facts.width, facts.height) == size

    def test_pixels_over_limit_refused(self) -> None:
        with pytest.raises(images.TooManyPixelsError, match="9000x9000"):
            images.read_facts(png_declaring(9_000, 9_000), "png")

    def test_pixels_at_limit_decoded(self) -> None:
        data = make_image("png", size=(40, 30))
        assert images.read_facts(data, "png", max_pixels=1200).width == 40
        with pytest.raises(images.TooManyPixelsError):
            images.read_facts(data, "png", max_pixels=1199)

    def test_decompression_bomb_gets_the_service_message(self) -> None:
        # Pillow rejects 10 billion pixels on its own, but the service's
        # limit applies first, with the setting to change.
        with pytest.raises(images.TooManyPixelsError, match="100000x100000"):
            images.read_facts(png_declaring(100_000, 100_000), "png")

    def test_limit_above_pillows_own_is_the_one_applied(self) -> None:
        # 199.8 million pixels: over twice Pillow's default limit.
        header = png_declaring(16_320, 12_240)
        with pytest.raises(images.TooManyPixelsError, match="more than the 150000000"):
            images.read_facts(header, "png", max_pixels=150_000_000)
