"""A chunk: the contacts of one upload request, with the source rows they came from."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd


@dataclass(frozen=True)
class Chunk:
    """Up to 1,000 contacts (100 on SOAP) for one request, the source rows they came from, and
    each row's identity in the run."""

    number: int
    contacts: pd.DataFrame
    originals: pd.DataFrame
    codes: npt.NDArray[np.int64]
    prepared: pd.Series | None = None
    """What the wire made ahead for each contact, off the event loop (see `Wire.prepare`)."""

    def part(self, rows: npt.NDArray[np.bool_]) -> Chunk:
        """The same chunk with only the rows in `rows`."""
        prepared = None if self.prepared is None else self.prepared[rows]
        return Chunk(
            self.number, self.contacts[rows], self.originals[rows], self.codes[rows], prepared
        )
