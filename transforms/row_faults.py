"""Collect every fault of every row in one pass, and say each one in words a person reads."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pandas as pd

BoolArray = npt.NDArray[np.bool_]

# Reasons quote the offending value, cut short so a 10 MB cell does not become a 10 MB reason.
MAX_QUOTED = 60


def quoted(values: pd.Series) -> pd.Series:
    """Values as 'text' for a reason, shortened with an ellipsis past MAX_QUOTED characters."""
    text = values.astype("str").fillna("")
    short = text.str.slice(0, MAX_QUOTED)
    short = short.where(text.str.len() <= MAX_QUOTED, short + "…")
    return "'" + short + "'"


class RowFaults:
    """Faults per row, in the order found; a row with several faults lists each."""

    def __init__(self, index: pd.Index) -> None:
        self._index = index
        self._reason = pd.Series(pd.NA, index=index, dtype="str")

    def add(self, mask: BoolArray | pd.Series, text: pd.Series | str) -> None:
        """Record `text` (one string, or a Series by row label) as a fault of the rows in `mask`."""
        rows = np.asarray(mask, dtype=bool)
        if not rows.any():
            return
        if isinstance(text, str):
            part = pd.Series(text, index=self._index[rows], dtype="str")
        else:
            part = text.reindex(self._index[rows]).astype("str")
        current = self._reason[rows]
        self._reason.loc[rows] = current.where(current.isna(), current + "; " + part).where(
            current.notna(), part
        )

    def add_value_fault(
        self, column: str, values: pd.Series, mask: BoolArray | pd.Series, message: str
    ) -> None:
        """Record "<column> '<value>' <message>" for the rows in `mask`."""
        rows = np.asarray(mask, dtype=bool)
        if rows.any():
            self.add(rows, column + " " + quoted(values[rows]) + " " + message)

    @property
    def invalid(self) -> BoolArray:
        """True for each row with at least one fault."""
        return np.asarray(self._reason.notna().to_numpy(), dtype=bool)

    @property
    def reason(self) -> pd.Series:
        """The joined reason per row; NA for rows without a fault."""
        return self._reason
