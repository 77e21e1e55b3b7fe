"""The Five9 contract: exactly what the sink sends. Strict: a row that fails it is never sent."""

from __future__ import annotations

from functools import cache, partial
from typing import Annotated

import numpy as np
import pandas as pd
import pandera.pandas as pa
from pandera.typing import Series

from schemas.fields import NUMBER_FIELDS
from schemas.phone_forms import number_forms, number_pattern
from schemas.text import Text

UTC_NS = Annotated[pd.DatetimeTZDtype, "ns", "UTC"]
_MINUTE = pd.Timedelta(minutes=1)
_NS_PER_MINUTE = 60_000_000_000
# Custom fields: any column that is not one of the named ones below.
_CUSTOM = (
    r"^(?!(number[123]|first_name|last_name|company|street|city|state|zip|"
    r"guard_start|guard_end|source_file|source_line)$).+$"
)


# The number check is named as pandera's `str_matches` of the same pattern, which it answers
# the same way, column-wise: so a failure reads as it always has.
NUMBER_CHECK = "str_matches"


def _number_form_error(*, e164: bool) -> str:
    return f"{NUMBER_CHECK}('{number_pattern(e164=e164)}')"


def _whole_minutes(series: pd.Series) -> pd.Series:
    """True for instants on a whole UTC minute (NaT is not)."""
    ns = series.dt.as_unit("ns").to_numpy("datetime64[ns]").view(np.int64)
    whole = (ns % _NS_PER_MINUTE == 0) & (ns != np.iinfo(np.int64).min)
    return pd.Series(whole, index=series.index)


class Five9Contacts(pa.DataFrameModel):
    """Normalised contacts: Five9 number forms, UTC guard windows exact to the minute."""

    source_file: Series[Text]
    source_line: Series[int] = pa.Field(ge=1)
    number1: Series[Text]
    number2: Series[Text] | None = pa.Field(nullable=True)
    number3: Series[Text] | None = pa.Field(nullable=True)
    first_name: Series[Text] | None = pa.Field(nullable=True)
    last_name: Series[Text] | None = pa.Field(nullable=True)
    company: Series[Text] | None = pa.Field(nullable=True)
    street: Series[Text] | None = pa.Field(nullable=True)
    city: Series[Text] | None = pa.Field(nullable=True)
    state: Series[Text] | None = pa.Field(nullable=True)
    zip: Series[Text] | None = pa.Field(nullable=True)
    guard_start: Series[UTC_NS]
    guard_end: Series[UTC_NS]

    class Config:
        # Other columns are custom Five9 fields: checked together below (one check for any
        # number of them; a per-column check costs minutes on a 50,000-column export).
        strict = False

    @pa.check(*NUMBER_FIELDS, name=NUMBER_CHECK, error=_number_form_error(e164=False))
    @classmethod
    def number_form(cls, series: pd.Series) -> pd.Series:
        """A number in a form Five9 takes (see `number_forms`)."""
        return number_forms(series, e164=False)

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
    check = pa.Check(
        partial(number_forms, e164=True), name=NUMBER_CHECK, error=_number_form_error(e164=True)
    )
    return schema.update_columns(
        {name: {"checks": [check]} for name in NUMBER_FIELDS if name in schema.columns}
    )
