"""The pandera dtype of a text column, checked once per column rather than once per value."""

from __future__ import annotations

from collections.abc import Iterable

import pandas as pd
from pandera import dtypes
from pandera.engines import pandas_engine


@pandas_engine.Engine.register_dtype
@dtypes.immutable(init=True)
class Text(pandas_engine.STRING):
    """pandas' text dtype (`str`, as `Series[str]` means in pandas 3), judged the same way.

    pandera's own check answers a column of that exact dtype with one True per value, and then
    formats an (empty) report of the values that failed: about a millisecond per column and
    batch. Here the exact dtype is one True; any other dtype is judged as pandera judges it,
    value by value where it does (an object column holding a few non-strings)."""

    def check(
        self,
        pandera_dtype: dtypes.DataType,
        data_container: pd.Series | pd.DataFrame | None = None,
    ) -> bool | Iterable[bool]:
        try:
            if pandas_engine.Engine.dtype(pandera_dtype).type == self.type:
                return True
        except TypeError:
            pass
        verdict: bool | Iterable[bool] = super().check(pandera_dtype, data_container)
        return verdict
