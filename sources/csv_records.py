"""Read single CSV records with Python's csv module: the careful path for records the fast
reader refuses, turning each broken record into a row with a one-line reason."""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass

# Undecodable bytes, as the "surrogateescape" error handler leaves them in text.
_ESCAPED_BYTE = re.compile("[\udc80-\udcff]")

# A record longer than this is taken for an unclosed quote (or a file that is not CSV).
MAX_RECORD_BYTES = 64 << 20


@dataclass(frozen=True)
class ParsedRecord:
    """One record's values (None for an empty cell or a missing field) and what went wrong."""

    values: list[str | None]
    fault: str | None


def _allow_long_fields() -> None:
    """Let the csv module read fields up to MAX_RECORD_BYTES (its default limit is 128 KiB)."""
    if csv.field_size_limit() < MAX_RECORD_BYTES:
        csv.field_size_limit(MAX_RECORD_BYTES)


def _fields(text: str, delimiter: str) -> tuple[list[str], str | None]:
    """The record's fields as the csv module reads them, or a plain split and the reason."""
    try:
        rows = list(csv.reader([text], delimiter=delimiter, quotechar='"', strict=False))
    except csv.Error as error:
        if "new-line character" in str(error):
            reason = "a carriage return (CR) alone breaks the row outside quotes"
        else:
            reason = f"cannot be read as CSV ({error})"
        return text.split(delimiter), reason
    return (rows[0] if rows else []), None


def _encoding_fault(fields: list[str], encoding: str) -> str | None:
    """Where the first byte that is not valid `encoding` sits, as a reason; None if all valid."""
    for column, field in enumerate(fields, start=1):
        found = _ESCAPED_BYTE.search(field)
        if found is not None:
            byte = ord(found.group()) - 0xDC00
            where = f"byte 0x{byte:02x} at column {column}"
            if encoding == "utf-8":
                return f"not valid UTF-8 ({where}); the file may be latin-1"
            return f"not valid {encoding} ({where})"
    return None


def parse_record(raw: bytes, width: int, delimiter: str, encoding: str) -> ParsedRecord:
    """Read one record (its bytes without the line end) as `width` fields.

    A record with another number of fields, bytes invalid in `encoding`, or a bare CR outside
    quotes gets a fault; its values are still filled positionally as far as they go.
    """
    _allow_long_fields()
    try:
        text, valid = raw.decode(encoding), True
    except UnicodeDecodeError:
        text, valid = raw.decode(encoding, errors="surrogateescape"), False
    fields, fault = _fields(text, delimiter)
    if fault is None and len(fields) != width:
        count = len(fields)
        fault = f"row has {count} field{'' if count == 1 else 's'}, the header has {width}"
    bad_bytes = None if valid else _encoding_fault(fields, encoding)
    if bad_bytes is not None:
        fault = bad_bytes if fault is None else f"{fault}; {bad_bytes}"
        fields = [
            field.encode(encoding, errors="surrogateescape").decode(encoding, errors="replace")
            for field in fields
        ]
    values: list[str | None] = [field or None for field in fields[:width]]
    values.extend([None] * (width - len(values)))
    return ParsedRecord(values=values, fault=fault)


def raw_text(raw: bytes, encoding: str) -> str:
    """A faulty record's bytes as text for `_raw_record`, undecodable bytes replaced."""
    return raw.decode(encoding, errors="replace")
