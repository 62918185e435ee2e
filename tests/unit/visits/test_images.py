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
        assert facts.width == 32 and facts.height == 24
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
