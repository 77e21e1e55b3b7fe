"""How source files are read: delimiter, encoding and the size of the pieces read at a time."""

from __future__ import annotations

import codecs
from dataclasses import dataclass

from schemas.errors import SettingError

DELIMITER_CANDIDATES = ",;\t|"

# codecs' canonical names of the encodings we read, mapped to the name ReadOptions keeps.
_ENCODINGS = {"utf-8": "utf-8", "utf-8-sig": "utf-8", "iso8859-1": "latin-1"}


def normalise_encoding(name: str) -> str:
    """'utf-8' or 'latin-1' for the names (and aliases) of the encodings we read."""
    try:
        canonical = codecs.lookup(name).name
    except LookupError:
        canonical = ""
    if canonical not in _ENCODINGS:
        raise SettingError(f"{name!r} is not supported; use utf-8 or latin-1", setting="encoding")
    return _ENCODINGS[canonical]


# Delimiters as people type them on a command line.
_SPELLED_OUT = {"\\t": "\t", "tab": "\t", "TAB": "\t"}


@dataclass(frozen=True)
class ReadOptions:
    """Settings for reading sources; `encoding` is normalised to 'utf-8' or 'latin-1'."""

    delimiter: str | None = None  # None: sniffed from the file's start among , ; \t |
    encoding: str = "utf-8"  # utf-8 (BOM optional) or latin-1 (aliases latin1, iso-8859-1)
    batch_rows: int = 262_144  # at most this many rows per batch
    block_bytes: int = 16 << 20  # CSV bytes read at a time (approx.); bounds a batch too

    def __post_init__(self) -> None:
        object.__setattr__(self, "encoding", normalise_encoding(self.encoding))
        if self.delimiter in _SPELLED_OUT:  # a shell passes '\t' as two characters
            object.__setattr__(self, "delimiter", _SPELLED_OUT[self.delimiter])
        if self.delimiter is not None and (
            len(self.delimiter) != 1 or self.delimiter in '"\r\n' or ord(self.delimiter) > 127
        ):
            raise SettingError(
                f"{self.delimiter!r} is not usable; give one ASCII character "
                "other than a quote or a line break (or \\t for a tab)",
                setting="delimiter",
            )
        if self.batch_rows < 1:
            raise SettingError(f"batch_rows must be at least 1, not {self.batch_rows}")
        if self.block_bytes < 1:
            raise SettingError(f"block_bytes must be at least 1, not {self.block_bytes}")


DEFAULT_OPTIONS = ReadOptions()
