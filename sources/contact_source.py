"""The protocol every source of contacts follows."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Protocol

from .batch import BatchRead, SourceBatch
from .storage import Location


class ContactSource(Protocol):
    """A file of contacts: its header names, known at once, and its rows in bounded batches."""

    location: Location
    """Where the file is: a local path or a URL."""

    @property
    def columns(self) -> list[str]:
        """The original header names, in file order."""
        ...

    def batches(self, columns: Sequence[str] | None = None) -> Iterator[SourceBatch]:
        """The rows in batches; each call reads the file again from its start. Only `columns`
        of the header (and the origin columns) when given."""
        ...

    def reads(self, columns: Sequence[str] | None = None) -> Iterator[BatchRead]:
        """The same rows as `batches`, in order, each block handed out before it is parsed: a
        call parses it (in any thread), so a caller may parse blocks in parallel."""
        ...
