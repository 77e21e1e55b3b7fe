"""A row's identity within a run: which of the run's sources it came from, and its line.

The pipeline gives each row its code as it reads it; the run ledger keeps codes to know which
rows an earlier attempt settled. A code does not depend on how rows were cut into chunks.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

LINE_BITS = 40  # a row code is source index << 40 | line: 2^40 lines per file is plenty


def row_codes(source_index: int, lines: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
    """One integer per row: which source of the run, and which line."""
    return np.asarray((np.int64(source_index) << LINE_BITS) | lines, dtype=np.int64)
