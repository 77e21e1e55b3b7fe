"""Column names shared by every layer: Five9's standard fields and the pipeline's own."""

from __future__ import annotations

NUMBER_FIELDS = ("number1", "number2", "number3")
# Five9's standard contact fields (docs/five9-contract.md); others are custom fields.
STANDARD_FIELDS = (
    *NUMBER_FIELDS,
    "first_name",
    "last_name",
    "company",
    "street",
    "city",
    "state",
    "zip",
)
GUARD_FIELDS = ("guard_start", "guard_end")
CANONICAL_FIELDS = (*STANDARD_FIELDS, *GUARD_FIELDS, "timezone")
REQUIRED_FIELDS = ("number1", *GUARD_FIELDS)
# The fields Five9 matches records on unless a run names others.
DEFAULT_KEYS: tuple[str, ...] = ("number1",)
# The zone of times without an offset in rows without a zone of their own, unless set.
DEFAULT_ZONE = "America/New_York"

# Where each row came from; carried through every step and written to outputs and rejects.
SOURCE_FILE = "source_file"
SOURCE_LINE = "source_line"
ORIGIN_FIELDS = (SOURCE_FILE, SOURCE_LINE)
# Set by the readers when a record could not be split into the header's fields.
READ_FAULT = "_read_fault"
RAW_RECORD = "_raw_record"
INTERNAL_FIELDS = (*ORIGIN_FIELDS, READ_FAULT, RAW_RECORD)
