"""Read contacts from CSV and Parquet files in bounded batches, keeping each row's origin."""

from __future__ import annotations

from .batch import ORIGIN_COLUMNS, BatchRead, SourceBatch
from .contact_source import ContactSource
from .csv_source import CsvSource
from .discovery import open_sources
from .options import ReadOptions
from .parquet_source import ParquetSource

__all__ = [
    "ORIGIN_COLUMNS",
    "BatchRead",
    "ContactSource",
    "CsvSource",
    "ParquetSource",
    "ReadOptions",
    "SourceBatch",
    "open_sources",
]
