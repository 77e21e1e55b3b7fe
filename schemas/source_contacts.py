"""The source contract: what a batch must hold once its columns are mapped. Lenient: text in."""

from __future__ import annotations

from typing import Any

import pandera.pandas as pa
from pandera.typing import Series

from schemas.text import Text


class SourceContacts(pa.DataFrameModel):
    """Mapped source rows: the required columns exist; values are text (guard times may also be
    Parquet timestamps); other columns pass through as custom fields."""

    number1: Series[Text] = pa.Field(nullable=True)
    number2: Series[Text] | None = pa.Field(nullable=True)
    number3: Series[Text] | None = pa.Field(nullable=True)
    first_name: Series[Text] | None = pa.Field(nullable=True)
    last_name: Series[Text] | None = pa.Field(nullable=True)
    company: Series[Text] | None = pa.Field(nullable=True)
    street: Series[Text] | None = pa.Field(nullable=True)
    city: Series[Text] | None = pa.Field(nullable=True)
    state: Series[Text] | None = pa.Field(nullable=True)
    zip: Series[Text] | None = pa.Field(nullable=True)
    guard_start: Series[Any] = pa.Field(nullable=True)
    guard_end: Series[Any] = pa.Field(nullable=True)
    timezone: Series[Text] | None = pa.Field(nullable=True)
    source_file: Series[Text]
    source_line: Series[int] = pa.Field(ge=1)

    class Config:
        strict = False
