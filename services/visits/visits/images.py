"""Image format detection from magic numbers, and EXIF reading.

The format is judged from the bytes, never from the Content-Type header,
which the client chooses. Pillow reads the EXIF of JPEG, PNG and WebP. A
HEIC photo is recognised by its `ftyp` box and kept without EXIF, because
reading it would need a HEIF decoder.
"""

import io
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from PIL import Image

# Pillow refuses images over twice its own pixel limit when it opens them,
# with a message of its own, before `read_facts` can apply the service's
# limit (VISITS_PHOTO_MAX_PIXELS). Opening reads only the header; the
# service's check runs right after it, before any pixel is decoded.
Image.MAX_IMAGE_PIXELS = None

MEDIA_TYPES = {
    "jpeg": "image/jpeg",
    "png": "image/png",
    "webp": "image/webp",
    "heic": "image/heic",
}
HEIC_BRANDS = {b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"mif1", b"msf1"}

EXIF_IFD = 0x8769
GPS_IFD = 0x8825
DATETIME = 0x0132
DATETIME_ORIGINAL = 0x9003
OFFSET_TIME_ORIGINAL = 0x9011
GPS_LATITUDE_REF, GPS_LATITUDE = 1, 2
GPS_LONGITUDE_REF, GPS_LONGITUDE = 3, 4
EXIF_TIME_FORMAT = "%Y:%m:%d %H:%M:%S"


# Above the 12 to 48 megapixels phone cameras usually save (an estimate).
DEFAULT_MAX_PIXELS = 50_000_000
# The highest limit an operator may set: 400 million pixels of RGBA take
# 1.6 GB to decode, and an upload is decoded whole.
MAX_PHOTO_PIXELS_SETTING = 400_000_000


class UnreadableImageError(ValueError):
    pass


class TooManyPixelsError(UnreadableImageError):
    def __init__(self, width: int, height: int, max_pixels: int) -> None:
        super().__init__(
            f"the image is {width}x{height}, {width * height} pixels, more than "
            f"the {max_pixels} allowed"
        )


@dataclass(frozen=True)
class ImageFacts:
    kind: str
    width: int | None = None
    height: int | None = None
    taken_at_local: datetime | None = None
    """EXIF capture time; naive when the photo carries no UTC offset."""
    lat: float | None = None
    lon: float | None = None

    @property
    def media_type(self) -> str:
        return MEDIA_TYPES[self.kind]


def sniff_kind(data: bytes) -> str | None:
    """Return jpeg, png, webp or heic from the leading bytes, or None."""
    if data.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "webp"
    if data[4:8] == b"ftyp" and data[8:12] in HEIC_BRANDS:
        return "heic"
    return None


def read_facts(
    data: bytes, kind: str, *, max_pixels: int = DEFAULT_MAX_PIXELS
) -> ImageFacts:
    """Read the size and EXIF of an image whose kind `sniff_kind` gave.

    The pixels are decoded too, so that valid headers in front of garbage
    image data are refused. The size is checked first, so an image that
    declares more than `max_pixels` is refused before it takes any memory.
    """
    if kind == "heic":
        return ImageFacts(kind=kind)
    try:
        with Image.open(io.BytesIO(data)) as image:
            if (image.format or "").lower() != kind:
                raise UnreadableImageError(
                    f"the bytes start like {kind} but decode as {image.format}"
                )
            width, height = image.size
            if width * height > max_pixels:
                raise TooManyPixelsError(width, height, max_pixels)
            exif = image.getexif()
            _decode(image)
    except (UnreadableImageError, TooManyPixelsError):
        raise
    except Exception as error:
        # Pillow's decoders raise more than OSError on hostile bytes (ValueError,
        # SyntaxError, ZeroDivisionError among them); each means unreadable.
        raise UnreadableImageError(
            f"the {kind} image cannot be read: {type(error).__name__}: {error}"
        ) from error
    lat, lon = gps_position(exif.get_ifd(GPS_IFD))
    return ImageFacts(
        kind=kind,
        width=width,
        height=height,
        taken_at_local=capture_time(exif),
        lat=lat,
        lon=lon,
    )


def _decode(image: Image.Image) -> None:
    """Decode every pixel block, raising OSError on truncated or corrupt data."""
    if image.format == "JPEG":
        # A JPEG decoded at an eighth of its size still reads all its scan
        # data, with a sixty-fourth of the memory.
        # At least one pixel: a 1x1 photo would ask for a size of zero.
        image.draft(image.mode, (max(1, image.width // 8), max(1, image.height // 8)))
    image.load()


def capture_time(exif: Any) -> datetime | None:
    details = exif.get_ifd(EXIF_IFD)
    raw = details.get(DATETIME_ORIGINAL) or exif.get(DATETIME)
    if not isinstance(raw, str):
        return None
    try:
        taken = datetime.strptime(raw.strip("\x00 "), EXIF_TIME_FORMAT)
    except ValueError:
        return None
    offset = _utc_offset(details.get(OFFSET_TIME_ORIGINAL))
    return taken if offset is None else taken.replace(tzinfo=offset)


def _utc_offset(raw: Any) -> timezone | None:
    """Parse an EXIF offset such as `-06:00`; None when absent or malformed."""
    if not isinstance(raw, str) or len(raw.strip("\x00 ")) != 6:
        return None
    text = raw.strip("\x00 ")
    sign = {"+": 1, "-": -1}.get(text[0])
    try:
        hours, minutes = int(text[1:3]), int(text[4:6])
    except ValueError:
        return None
    if sign is None or hours > 14 or minutes > 59:
        return None
    return timezone(sign * timedelta(hours=hours, minutes=minutes))


def gps_position(gps: Any) -> tuple[float | None, float | None]:
    lat = _degrees(gps.get(GPS_LATITUDE), gps.get(GPS_LATITUDE_REF), "S", 90)
    lon = _degrees(gps.get(GPS_LONGITUDE), gps.get(GPS_LONGITUDE_REF), "W", 180)
    if lat is None or lon is None:
        return None, None
    return lat, lon


def _degrees(parts: Any, ref: Any, negative: str, limit: float) -> float | None:
    """Turn EXIF (degrees, minutes, seconds) and a hemisphere into signed degrees."""
    try:
        degrees, minutes, seconds = (float(part) for part in parts)
    except (TypeError, ValueError, ZeroDivisionError):
        return None
    value = degrees + minutes / 60 + seconds / 3600
    if isinstance(ref, bytes):
        ref = ref.decode("ascii", "replace")
    if isinstance(ref, str) and ref.strip("\x00 ").upper() == negative:
        value = -value
    return value if abs(value) <= limit else None


def taken_at_utc(local: datetime | None, fallback_offset: timedelta) -> datetime | None:
    """Place a naive EXIF time in UTC with the offset the device reported.

    None when the time has no UTC equivalent, such as 9999-12-31 23:00 at
    -06:00: a camera clock that wrong gives no usable capture time.
    """
    if local is None:
        return None
    if local.tzinfo is None:
        local = local.replace(tzinfo=timezone(fallback_offset))
    try:
        return local.astimezone(UTC)
    except OverflowError:
        return None
