"""The byte layout of a bundle zip, checked field by field.

Members are stored, not deflated: then every byte of a file's contents is covered by its CRC-32
(which catches any change of up to 32 consecutive bits) and the manifest's SHA-256, with no
compressed framing whose spare bits a decoder ignores. The header fields that Python's zipfile
reads but never checks (versions, flags, times, attributes, the end record's counts) are checked
here, so a changed byte anywhere in a bundle is reported. The platform writes every member the
same way (`zip_member`), which is what makes the layout checkable.
"""

from __future__ import annotations

import struct
import zipfile
from datetime import datetime

ZipTime = tuple[int, int, int, int, int, int]
END_RECORD = struct.Struct("<4s4H2LH")
DIRECTORY_RECORD = struct.Struct("<4s4B4HL2L5H2L")  # APPNOTE 4.3.12, as zipfile writes it
PERMISSIONS = 0o644 << 16
ZIP_VERSION = 20
UNIX = 3


def zip_time(generated_at: str) -> ZipTime:
    """The member time of a bundle generated at `generated_at` (zip keeps even seconds)."""
    try:
        moment = datetime.fromisoformat(generated_at.replace("Z", "+00:00"))
    except ValueError:
        return (1980, 1, 1, 0, 0, 0)
    if moment.year < 1980:
        return (1980, 1, 1, 0, 0, 0)
    return (
        moment.year,
        moment.month,
        moment.day,
        moment.hour,
        moment.minute,
        moment.second // 2 * 2,
    )


def zip_member(name: str, generated_at: str) -> zipfile.ZipInfo:
    """How the platform writes one bundle member (stored, mode 0644, the bundle's time)."""
    info = zipfile.ZipInfo(name, date_time=zip_time(generated_at))
    info.compress_type = zipfile.ZIP_STORED
    info.external_attr = PERMISSIONS
    info.create_system = UNIX
    return info


def layout_problems(data: bytes, archive: zipfile.ZipFile, generated_at: str) -> list[str]:
    """Every way the archive's bytes differ from the layout the platform writes."""
    problems: list[str] = []
    stamp = zip_time(generated_at)
    offset = 0
    for info in archive.infolist():
        problems += _member_problems(info, stamp)
        if info.header_offset != offset:
            problems.append(f"{info.filename}: its header is not where the previous member ends")
        header = info.FileHeader()
        if data[info.header_offset : info.header_offset + len(header)] != header:
            problems.append(f"{info.filename}: the local header differs from the directory's")
        offset = info.header_offset + len(header) + info.compress_size
    problems += _directory_problems(data, archive, offset)
    problems += _end_problems(data, archive, offset)
    return problems


def directory_record(info: zipfile.ZipInfo) -> bytes:
    """The central directory record zipfile writes for `info` (no zip64: bundles are small)."""
    year, month, day, hour, minute, second = info.date_time
    dos_date = (year - 1980) << 9 | month << 5 | day
    dos_time = hour << 11 | minute << 5 | second // 2
    name = info.filename.encode("ascii", "replace")
    fields = DIRECTORY_RECORD.pack(
        b"PK\x01\x02",
        info.create_version,
        info.create_system,
        info.extract_version,
        info.reserved,
        info.flag_bits,
        info.compress_type,
        dos_time,
        dos_date,
        info.CRC,
        info.compress_size,
        info.file_size,
        len(name),
        len(info.extra),
        len(info.comment),
        info.volume,
        info.internal_attr,
        info.external_attr,
        info.header_offset,
    )
    return fields + name + info.extra + info.comment


def _directory_problems(data: bytes, archive: zipfile.ZipFile, start: int) -> list[str]:
    """zipfile parses the directory leniently (a length field pointing past the directory is cut
    short, not refused), so each record is compared byte for byte with what its fields give."""
    problems, position = [], start
    for info in archive.infolist():
        record = directory_record(info)
        if data[position : position + len(record)] != record:
            problems.append(f"{info.filename}: its directory record is not as written")
        position += len(record)
    if position != len(data) - END_RECORD.size:
        problems.append("the central directory does not end where the end record begins")
    return problems


def _member_problems(info: zipfile.ZipInfo, stamp: ZipTime) -> list[str]:
    expected = {
        "date_time": stamp,
        "compress_type": zipfile.ZIP_STORED,
        "external_attr": PERMISSIONS,
        "internal_attr": 0,
        "flag_bits": 0,
        "create_system": UNIX,
        "create_version": ZIP_VERSION,
        "extract_version": ZIP_VERSION,
        "reserved": 0,
        "volume": 0,
        "extra": b"",
        "comment": b"",
    }
    return [
        f"{info.filename}: {field} is {getattr(info, field)!r}, a bundle writes {value!r}"
        for field, value in expected.items()
        if getattr(info, field) != value
    ]


def _end_problems(data: bytes, archive: zipfile.ZipFile, directory_start: int) -> list[str]:
    problems = []
    if archive.comment:
        problems.append("the archive carries a comment")
    if len(data) < END_RECORD.size:
        return ["the archive has no end record"]
    signature, disk, directory_disk, on_disk, total, size, start, comment = END_RECORD.unpack(
        data[-END_RECORD.size :]
    )
    count = len(archive.infolist())
    end_record_at = len(data) - END_RECORD.size
    if (signature, disk, directory_disk, comment) != (b"PK\x05\x06", 0, 0, 0):
        problems.append("the end record is not a plain single-disk end record at the end")
    if (on_disk, total) != (count, count):
        problems.append(f"the end record counts {on_disk}/{total} members, the archive has {count}")
    if start != directory_start or size != end_record_at - directory_start:
        problems.append("the central directory is not where the end record says")
    return problems
