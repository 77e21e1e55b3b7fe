"""A chunk: the contacts of one upload request, with the source rows they came from."""

from __future__ import annotations

from functools import cached_property
from typing import TypeVar

import numpy as np
import numpy.typing as npt
import pandas as pd

_Rows = TypeVar("_Rows", pd.DataFrame, pd.Series)


class Chunk:
    """Up to 1,000 contacts (100 on SOAP) for one request, the source rows they came from, and
    each row's identity in the run.

    A chunk cut from a larger batch keeps the batch's frames and its `rows` of them: its own
    `contacts` and `originals` are sliced when first asked for (a body made ahead from
    `prepared` needs neither, and the originals are read only when a row is set aside)."""

    def __init__(
        self,
        number: int,
        contacts: pd.DataFrame,
        originals: pd.DataFrame,
        codes: npt.NDArray[np.int64],
        prepared: pd.Series | None = None,
        rows: slice | None = None,
    ) -> None:
        self.number = number
        self.codes = codes
        self._frames = (contacts, originals)
        self._made = prepared
        self._rows = rows

    def __len__(self) -> int:
        return len(self.codes)

    def __repr__(self) -> str:
        return f"Chunk(number={self.number}, rows={len(self)})"

    @cached_property
    def contacts(self) -> pd.DataFrame:
        """The contacts, as the wire sends them (Five9 contract)."""
        return self._sliced(self._frames[0])

    @cached_property
    def prepared(self) -> pd.Series | None:
        """What the wire made ahead for each contact, off the event loop (see `Wire.prepare`)."""
        return None if self._made is None else self._sliced(self._made)

    def made_ahead(self) -> tuple[pd.Series, slice] | None:
        """What the wire made ahead for the chunk's batch, and the chunk's rows of it (no
        slice of it made); None when nothing was made ahead."""
        if self._made is None:
            return None
        return self._made, slice(0, len(self._made)) if self._rows is None else self._rows

    @cached_property
    def originals(self) -> pd.DataFrame:
        """The source's values of the same rows, as read."""
        return self._sliced(self._frames[1])

    def part(self, rows: npt.NDArray[np.bool_]) -> Chunk:
        """The same chunk with only the rows in `rows`."""
        prepared = None if self.prepared is None else self.prepared[rows]
        return Chunk(
            self.number, self.contacts[rows], self.originals[rows], self.codes[rows], prepared
        )

    def _sliced(self, rows: _Rows) -> _Rows:
        return rows if self._rows is None else rows.iloc[self._rows]
