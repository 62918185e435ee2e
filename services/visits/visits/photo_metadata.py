"""Photo bytes without their metadata, for callers who may not see positions.

A phone writes the GPS position, the time and the device into a photo's
EXIF (and sometimes XMP). The API rounds the position for a caller without
`personal:read`; the file itself must not give it back in full. The
metadata blocks are cut out of the container as they are, so the pixels
are not decoded or encoded again.

HEIC keeps its metadata inside boxes that point at one another by offset.
Cutting one out means rewriting those offsets, so a HEIC photo is not
handed to such a caller at all (`None`).
"""

import struct

JPEG_START = b"\xff\xd8"
JPEG_START_OF_SCAN = 0xDA
# Markers with no length field after them.
JPEG_STANDALONE = {0x01, *range(0xD0, 0xD8)}
JPEG_APP1 = 0xE1
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
PNG_METADATA_CHUNKS = {b"eXIf", b"tEXt", b"iTXt", b"zTXt", b"tIME"}
WEBP_METADATA_CHUNKS = {b"EXIF", b"XMP "}
# VP8X flags: bit 3 marks an EXIF chunk, bit 2 an XMP chunk.
WEBP_EXIF_AND_XMP_FLAGS = 0x08 | 0x04


class UnreadableContainerError(ValueError):
    """The bytes do not follow their format's layout."""


def without_metadata(media_type: str, data: bytes) -> bytes | None:
    """Return the photo without EXIF and XMP, or None when that cannot be done."""
    if media_type == "image/jpeg":
        return _jpeg(data)
    if media_type == "image/png":
        return _png(data)
    if media_type == "image/webp":
        return _webp(data)
    return None


def _jpeg(data: bytes) -> bytes:
    if not data.startswith(JPEG_START):
        raise UnreadableContainerError("not a JPEG: no start-of-image marker")
    kept = [JPEG_START]
    position = 2
    while position + 4 <= len(data):
        if data[position] != 0xFF:
            raise UnreadableContainerError(f"no JPEG marker at byte {position}")
        marker = data[position + 1]
        if marker == 0xFF:  # Fill byte before a marker.
            position += 1
            continue
        if marker in JPEG_STANDALONE:
            kept.append(data[position : position + 2])
            position += 2
            continue
        if marker == JPEG_START_OF_SCAN:
            # The compressed image and everything after it stay as they are.
            kept.append(data[position:])
            return b"".join(kept)
        (length,) = struct.unpack(">H", data[position + 2 : position + 4])
        segment = data[position : position + 2 + length]
        payload = segment[4:]
        metadata = marker == JPEG_APP1 and (
            payload.startswith(b"Exif\x00") or payload.startswith(b"http://ns.adobe")
        )
        if not metadata:
            kept.append(segment)
        position += 2 + length
    raise UnreadableContainerError("the JPEG ends before its image data")


def _png(data: bytes) -> bytes:
    if not data.startswith(PNG_SIGNATURE):
        raise UnreadableContainerError("not a PNG: no signature")
    kept = [PNG_SIGNATURE]
    position = len(PNG_SIGNATURE)
    while position + 12 <= len(data):
        (length,) = struct.unpack(">I", data[position : position + 4])
        kind = data[position + 4 : position + 8]
        end = position + 12 + length
        if kind not in PNG_METADATA_CHUNKS:
            kept.append(data[position:end])
        position = end
        if kind == b"IEND":
            return b"".join(kept)
    raise UnreadableContainerError("the PNG ends before its IEND chunk")


def _webp(data: bytes) -> bytes:
    if len(data) < 12 or data[:4] != b"RIFF" or data[8:12] != b"WEBP":
        raise UnreadableContainerError("not a WebP: no RIFF WEBP header")
    chunks = []
    position = 12
    while position + 8 <= len(data):
        kind = data[position : position + 4]
        (size,) = struct.unpack("<I", data[position + 4 : position + 8])
        end = position + 8 + size + (size & 1)
        chunk = data[position:end]
        if kind == b"VP8X" and len(chunk) > 8:
            flags = chunk[8] & ~WEBP_EXIF_AND_XMP_FLAGS
            chunk = chunk[:8] + bytes([flags]) + chunk[9:]
        if kind not in WEBP_METADATA_CHUNKS:
            chunks.append(chunk)
        position = end
    body = b"WEBP" + b"".join(chunks)
    return b"RIFF" + struct.pack("<I", len(body)) + body
