"""Where every row of a run ends: one bucket each, and a tally of rows per bucket.

The pipeline (invalid, expired, duplicate, settled before), the sink (delivered, rejected by
Five9, failed, expired as a chunk left), the run report and `retry` all count in a `Tally`;
the buckets of a run add up to the rows it read.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from enum import StrEnum


class Bucket(StrEnum):
    """A row's outcome; the value is its key in the run report."""

    DELIVERED = "delivered"
    REJECTED_BY_FIVE9 = "rejected_by_five9"
    INVALID = "invalid"
    EXPIRED = "expired"
    DUPLICATE = "duplicate"
    FAILED = "failed"
    ALREADY_DELIVERED = "already_delivered"
    WOULD_DELIVER = "would_deliver"


BUCKET_NAMES = frozenset(bucket.value for bucket in Bucket)


class Tally(Mapping[Bucket, int]):
    """Rows per bucket (every bucket present, from 0)."""

    def __init__(self, counts: Mapping[Bucket, int] | None = None) -> None:
        self._counts = dict.fromkeys(Bucket, 0)
        for bucket, rows in (counts or {}).items():
            self._counts[Bucket(bucket)] += rows

    def add(self, bucket: Bucket, rows: int) -> None:
        """`rows` more rows ended in `bucket`."""
        self._counts[bucket] += rows

    def __add__(self, other: Mapping[Bucket, int]) -> Tally:
        total = Tally(self)
        for bucket, rows in other.items():
            total.add(bucket, rows)
        return total

    def __getitem__(self, bucket: Bucket) -> int:
        return self._counts[bucket]

    def __iter__(self) -> Iterator[Bucket]:
        return iter(self._counts)

    def __len__(self) -> int:
        return len(self._counts)

    def total(self) -> int:
        """Rows in every bucket together."""
        return sum(self._counts.values())

    def by_name(self) -> dict[str, int]:
        """Rows per bucket under the report's keys, in the buckets' order."""
        return {bucket.value: rows for bucket, rows in self._counts.items()}

    def __repr__(self) -> str:
        return f"Tally({self.by_name()})"


class Tallied:
    """Reads a bucket's rows by its name (`report.delivered`) from the object's `tally`."""

    def __getattr__(self, name: str) -> int:
        tally = self.__dict__.get("tally")
        if tally is None or name not in BUCKET_NAMES:
            raise AttributeError(name)
        return int(tally[Bucket(name)])
