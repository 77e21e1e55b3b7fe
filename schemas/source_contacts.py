"""The source contract: what a batch must hold once its columns are mapped. Lenient: text in."""

from __future__ import annotations

from typing import Any

import pandera.pandas as pa
from pandera.typing import Series


class SourceContacts(pa.DataFrameModel):
    """Mapped source rows: the required columns exist; values are text (guard times may also be
    Parquet timestamps); other columns pass through as custom fields."""

    number1: Series[str] = pa.Field(nullable=True)
    number2: Series[str] | None = pa.Field(nullable=True)
    number3: Series[str] | None = pa.Field(nullable=True)
    first_name: Series[str] | None = pa.Field(nullable=True)
    last_name: Series[str] | None = pa.Field(nullable=True)
    company: Series[str] | None = pa.Field(nullable=True)
    street: Series[str] | None = pa.Field(nullable=True)
    city: Series[str] | None = pa.Field(nullable=True)
    state: Series[str] | None = pa.Field(nullable=True)
    zip: Series[str] | None = pa.Field(nullable=True)
    guard_start: Series[Any] = pa.Field(nullable=True)
    guard_end: Series[Any] = pa.Field(nullable=True)
    timezone: Series[str] | None = pa.Field(nullable=True)
    source_file: Series[str]
    source_line: Series[int] = pa.Field(ge=1)

    class Config:
        strict = False
