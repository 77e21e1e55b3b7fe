"""The Five9 contract: exactly what the sink sends. Strict: a row that fails it is never sent."""

from __future__ import annotations

from functools import cache
from typing import Annotated

import pandas as pd
import pandera.pandas as pa
from pandera.typing import Series

from schemas.fields import NUMBER_FIELDS
from schemas.phone_forms import number_pattern

UTC_NS = Annotated[pd.DatetimeTZDtype, "ns", "UTC"]
_MINUTE = pd.Timedelta(minutes=1)
# Custom fields: any column that is not one of the named ones below.
_CUSTOM = (
    r"^(?!(number[123]|first_name|last_name|company|street|city|state|zip|"
    r"guard_start|guard_end|source_file|source_line)$).+$"
)


def _whole_minutes(series: pd.Series) -> pd.Series:
    whole: pd.Series = series.dt.floor("min") == series
    return whole


class Five9Contacts(pa.DataFrameModel):
    """Normalised contacts: Five9 number forms, UTC guard windows exact to the minute."""

    source_file: Series[str]
    source_line: Series[int] = pa.Field(ge=1)
    number1: Series[str] = pa.Field(str_matches=number_pattern(e164=False))
    number2: Series[str] | None = pa.Field(nullable=True, str_matches=number_pattern(e164=False))
    number3: Series[str] | None = pa.Field(nullable=True, str_matches=number_pattern(e164=False))
    first_name: Series[str] | None = pa.Field(nullable=True)
    last_name: Series[str] | None = pa.Field(nullable=True)
    company: Series[str] | None = pa.Field(nullable=True)
    street: Series[str] | None = pa.Field(nullable=True)
    city: Series[str] | None = pa.Field(nullable=True)
    state: Series[str] | None = pa.Field(nullable=True)
    zip: Series[str] | None = pa.Field(nullable=True)
    guard_start: Series[UTC_NS]
    guard_end: Series[UTC_NS]

    class Config:
        # Other columns are custom Five9 fields: checked together below (one check for any
        # number of them; a per-column check costs minutes on a 50,000-column export).
        strict = False

    @pa.check("guard_start", "guard_end", name="whole_utc_minute")
    @classmethod
    def whole_minute(cls, series: pd.Series) -> pd.Series:
        """Five9 refuses a guard time that is not an exact UTC minute."""
        return _whole_minutes(series)

    @pa.dataframe_check(name="custom_fields_are_text")
    @classmethod
    def custom_fields_are_text(cls, frame: pd.DataFrame) -> bool:
        """Five9 takes every field value as a string."""
        custom = frame.columns[frame.columns.str.match(_CUSTOM)]
        return all(pd.api.types.is_string_dtype(frame[c].dtype) for c in custom)

    @pa.dataframe_check(name="window_at_least_one_minute")
    @classmethod
    def window_not_empty(cls, frame: pd.DataFrame) -> pd.Series:
        """The dialer needs at least one whole minute to call in."""
        return frame["guard_end"] - frame["guard_start"] >= _MINUTE


@cache
def five9_schema(*, e164: bool) -> pa.DataFrameSchema:
    """The contract for a domain: E.164 domains also take "+" numbers."""
    schema = Five9Contacts.to_schema()
    if not e164:
        return schema
    pattern = number_pattern(e164=True)
    return schema.update_columns(
        {
            name: {"checks": [pa.Check.str_matches(pattern)]}
            for name in NUMBER_FIELDS
            if name in schema.columns
        }
    )
