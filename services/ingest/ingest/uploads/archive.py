"""Reject XLSX archives built to exhaust the reader: ZIP bombs and XML bombs.

A ZIP bomb is a member that unpacks to far more than it occupies in the
archive. The check reads the sizes the archive declares, before expanding
anything. Python's zipfile stops at the declared size and fails on a CRC
mismatch, so a member that understates its size is damaged, not expanded.

An XML bomb defines entities in a DOCTYPE that expand to gigabytes (the
"billion laughs"). Office Open XML parts never carry a DOCTYPE, so any
member that declares one is rejected.
"""

import io
import re
import zipfile

# A deflated member above this ratio and this size is taken as a bomb.
# Ordinary sheet XML compresses far less, roughly 5 to 20 times (an estimate).
MAX_COMPRESSION_RATIO = 100
RATIO_CHECK_MIN_BYTES = 5 * 1024 * 1024
# Bytes of a member read while looking for its root element.
MAX_PROLOG_BYTES = 1024 * 1024
_CHUNK_BYTES = 64 * 1024

_ROOT_START = re.compile(rb"<[A-Za-z_]")
_DECLARATION = re.compile(rb"<!(DOCTYPE|ENTITY)", re.IGNORECASE)


class HostileArchiveError(ValueError):
    """A ZIP bomb or an XML bomb in an archive, named in the message."""


def check_xlsx_archive(content: bytes) -> None:
    """Raise HostileArchiveError for a ZIP bomb or a DOCTYPE in any XML member.

    A file that is not a ZIP archive passes, because the reader reports it.
    """
    try:
        archive = zipfile.ZipFile(io.BytesIO(content))
    except zipfile.BadZipFile:
        return
    with archive:
        for info in archive.infolist():
            _check_ratio(info)
        for info in archive.infolist():
            if info.filename.endswith((".xml", ".rels")):
                _check_prolog(archive, info)


def _check_ratio(info: zipfile.ZipInfo) -> None:
    if info.file_size <= RATIO_CHECK_MIN_BYTES:
        return
    ratio = info.file_size / max(info.compress_size, 1)
    if ratio > MAX_COMPRESSION_RATIO:
        raise HostileArchiveError(
            f"{info.filename} in the workbook would unpack to "
            f"{info.file_size // (1024 * 1024)} MiB from "
            f"{info.compress_size} bytes ({ratio:.0f}:1, the limit is "
            f"{MAX_COMPRESSION_RATIO}:1), which is how a ZIP bomb is built; save "
            "the portfolio again from Excel or export it as CSV"
        )


def _check_prolog(archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> None:
    """Read the member up to its root element and reject a DOCTYPE before it."""
    prolog = b""
    try:
        with archive.open(info) as member:
            while len(prolog) <= MAX_PROLOG_BYTES:
                chunk = member.read(_CHUNK_BYTES)
                if not chunk:
                    break
                prolog += chunk
                root = _ROOT_START.search(_utf8(prolog))
                if root is not None:
                    prolog = _utf8(prolog)[: root.start()]
                    break
    except (zipfile.BadZipFile, OSError, EOFError) as error:
        raise HostileArchiveError(
            f"{info.filename} in the workbook is damaged ({error}); save the "
            "portfolio again from Excel or export it as CSV"
        ) from None
    if _DECLARATION.search(_utf8(prolog)):
        raise HostileArchiveError(
            f"{info.filename} in the workbook declares a DOCTYPE or entities, "
            "which Excel never writes and an XML bomb needs; save the portfolio "
            "again from Excel or export it as CSV"
        )


def _utf8(data: bytes) -> bytes:
    """Return UTF-16 XML re-encoded as UTF-8, so the patterns see its markup."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16", errors="ignore").encode()
    return data
