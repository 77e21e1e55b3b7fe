"""One batch of source rows to Five9 contacts, with every faulty row set aside with its reasons.

Pure: a DataFrame in, DataFrames out; no I/O. Expiry and duplicates are separate steps, since
they depend on the moment of the load and on the whole run.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import numpy as np
import numpy.typing as npt
import pandas as pd
import pandera.pandas as pa
import pyarrow

from schemas.arrow_text import has_empty, may_trim, text_array
from schemas.errors import SettingError
from schemas.fields import (
    CANONICAL_FIELDS,
    DEFAULT_KEYS,
    DEFAULT_ZONE,
    GUARD_FIELDS,
    INTERNAL_FIELDS,
    NUMBER_FIELDS,
    RAW_RECORD,
    READ_FAULT,
    SOURCE_FILE,
    SOURCE_LINE,
    STANDARD_FIELDS,
)
from schemas.five9_contacts import five9_schema
from schemas.source_contacts import SourceContacts
from transforms.calling_hours import CallingHours
from transforms.guard_windows import normalise_guard_windows
from transforms.phones import normalise_phones
from transforms.row_faults import RowFaults

_Rows = TypeVar("_Rows", pd.DataFrame, pd.Series)
PHONE_RULE = "is not a number Five9 takes (10 digits for North America, or 011 then 7-13 digits)"


@dataclass(frozen=True)
class NormaliseOptions:
    """What shapes normalisation: the run's default zone, calling hours, E.164, key fields."""

    default_zone: str = DEFAULT_ZONE
    calling_hours: CallingHours | None = None
    e164: bool = False
    keys: tuple[str, ...] = DEFAULT_KEYS
    load_time: pd.Timestamp | None = None
    """With calling hours: a window open at this moment keeps the permitted stretch still open
    then, not a first one that has already passed."""

    def __post_init__(self) -> None:
        check_keys(self.keys)


def check_keys(keys: Sequence[str]) -> None:
    """The key fields Five9 matches records on: named, each once, and contact fields (a guard
    time or zone is not one)."""
    if not keys:
        raise SettingError("needs at least one field name", setting="keys")
    for key in keys:
        if not key.strip():
            raise SettingError("needs a field name, not a blank one", setting="keys")
        if key in (*GUARD_FIELDS, "timezone", *INTERNAL_FIELDS):
            raise SettingError(f"{key!r} is not a contact field Five9 can match on", setting="keys")
    repeated = sorted({key for key in keys if keys.count(key) > 1})
    if repeated:
        raise SettingError(f"{repeated[0]!r} is given more than once", setting="keys")


@dataclass(frozen=True)
class NormalisedBatch:
    """Contacts that pass the Five9 contract (with each row's zone), and the rows that do not."""

    contacts: pd.DataFrame
    zones: pd.Series
    invalid: pd.DataFrame


def _source_contract_faults(mapped: pd.DataFrame, faults: RowFaults) -> None:
    """Row-level failures of the source contract become faults (lazy: all found at once)."""
    try:
        SourceContacts.validate(mapped, lazy=True, inplace=True)
    except pa.errors.SchemaErrors as errors:
        cases = errors.failure_cases
        structural = cases[cases["index"].isna()]
        if not structural.empty:
            first = structural.iloc[0]
            raise ValueError(
                f"source contract broken: {first['column']} {first['check']}"
            ) from None
        for (column, check), group in cases.groupby(["column", "check"]):
            rows = mapped.index.isin(group["index"].astype(int))
            faults.add(rows, f"{column} fails the source contract ({check})")


# C0 controls other than tab and line breaks, and the non-characters U+FFFE and U+FFFF: XML
# 1.0 (Five9's SOAP API) cannot carry them (XML 1.0, section 2.2, "Char"), and Five9 cuts a
# value at a NUL. One contract for both paths, so a preview says what either would send.
_CONTROL = "([\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff])"
_LINE_CONTROLS = np.array([9, 10, 13], dtype=np.uint8)  # tab, line feed, carriage return


def _text_faults(mapped: pd.DataFrame, faults: RowFaults) -> None:
    """A control character in any text cell makes the row unusable; the reason names it."""
    text = [
        c
        for c in mapped.columns
        if c not in INTERNAL_FIELDS
        and pd.api.types.is_string_dtype(mapped[c].dtype)
        and _may_hold_control(mapped[c])
    ]
    if len(text) > len(mapped):
        # A wide, short batch: look for rows with a control character first, then name the
        # columns.
        joined = mapped[text].fillna("").astype(str).agg("".join, axis=1)
        suspects = joined.str.contains(_CONTROL, regex=True).to_numpy()
        if not suspects.any():
            return
        text = [c for c in text if mapped.loc[suspects, c].str.contains(_CONTROL).any()]
    for column in text:
        found = mapped[column].str.extract(_CONTROL, expand=False)
        rows = found.notna().to_numpy()
        if rows.any():
            faults.add(rows, column + " contains " + found[rows].map(_control_name))


def _control_name(character: str) -> str:
    if character == "\x00":
        return "a NUL character"
    kind = "non-character" if character in "\ufffe\uffff" else "control character"
    return f"the {kind} U+{ord(character):04X}"


def _may_hold_control(values: pd.Series) -> bool:
    """False when no value of the column holds a control character, judged on the Arrow
    buffers at once; True when it may (or the column is not Arrow-backed)."""
    try:
        array = pyarrow.array(values, from_pandas=True)
    except (pyarrow.ArrowInvalid, pyarrow.ArrowTypeError):
        return True
    chunks = array.chunks if isinstance(array, pyarrow.ChunkedArray) else [array]
    for chunk in chunks:
        if not (pyarrow.types.is_string(chunk.type) or pyarrow.types.is_large_string(chunk.type)):
            return True
        data = chunk.buffers()[2]
        if data is not None and _control_bytes(np.frombuffer(data, dtype=np.uint8)):
            return True
    return False


def _control_bytes(data: npt.NDArray[np.uint8]) -> bool:
    """Whether UTF-8 bytes hold a control character (or may: EF BF BE/BF is U+FFFE/U+FFFF)."""
    # Two reductions first: most text has no byte below 32 and none from 0xEF up.
    if data.min(initial=255) < 32 and not np.isin(data[data < 32], _LINE_CONTROLS).all():
        return True
    if data.max(initial=0) < 0xEF:
        return False
    lead = np.flatnonzero(data[:-2] == 0xEF)
    return bool(((data[lead + 1] == 0xBF) & (data[lead + 2] >= 0xBE)).any())


def _clean_text(values: pd.Series) -> pd.Series:
    """Text fields as Five9 gets them: trimmed, empty as missing (as they are when the bytes
    show no value to trim and none empty)."""
    text = values.astype("str")
    array = text_array(text)
    if not may_trim(array) and not has_empty(array):
        return text
    text = text.str.strip()
    return text.where(text != "")


def census_keys(mapped: pd.DataFrame, options: NormaliseOptions) -> pd.DataFrame:
    """Each row's key fields as `normalise_batch` leaves them, without the rest of the work
    (the keys are contact fields the batch has: `check_keys` and the pipeline see to that)."""
    fields: dict[str, pd.Series] = {}
    for key in options.keys:
        if key in NUMBER_FIELDS:
            fields[key] = normalise_phones(mapped[key], e164=options.e164).number
        elif key in STANDARD_FIELDS:
            fields[key] = _clean_text(mapped[key])
        else:
            fields[key] = mapped[key].astype("str")
    return pd.DataFrame(fields, index=mapped.index)


def normalise_batch(
    frame: pd.DataFrame, renames: dict[str, str], options: NormaliseOptions
) -> NormalisedBatch:
    """Validate and normalise one batch read from a source (original column names)."""
    mapped = frame.rename(columns=renames)
    faults = RowFaults(mapped.index)
    if READ_FAULT in mapped.columns:
        faults.add(mapped[READ_FAULT].notna().to_numpy(), mapped[READ_FAULT])
    _source_contract_faults(mapped, faults)
    _text_faults(mapped, faults)

    fields: dict[str, pd.Series] = {}
    blanks: dict[str, np.ndarray] = {}
    numbers_blank = np.ones(len(mapped), dtype=bool)
    for name in NUMBER_FIELDS:
        if name not in mapped.columns:
            continue
        phones = normalise_phones(mapped[name], e164=options.e164)
        faults.add_value_fault(name, mapped[name], phones.bad, PHONE_RULE)
        numbers_blank &= phones.blank
        blanks[name] = phones.blank
        fields[name] = phones.number
    for key in options.keys:
        if key not in mapped.columns:
            continue
        # A number key: blank, not bad (a bad one is named as such), whatever else is wrong.
        blank = blanks[key] if key in blanks else _clean_text(mapped[key]).isna().to_numpy()
        faults.add(blank, f"{key} is blank, and it is the key Five9 matches records on")
    if not set(options.keys) & set(NUMBER_FIELDS):
        faults.add(numbers_blank, "has no phone number in number1, number2 or number3")

    windows = normalise_guard_windows(
        mapped,
        options.default_zone,
        faults,
        calling_hours=options.calling_hours,
        load_time=options.load_time,
    )

    for name in STANDARD_FIELDS:
        if name in mapped.columns and name not in fields:
            fields[name] = _clean_text(mapped[name])
    custom = [c for c in mapped.columns if c not in CANONICAL_FIELDS and c not in INTERNAL_FIELDS]
    for name in custom:
        fields[name] = mapped[name].astype("str")

    contacts = pd.DataFrame(
        {
            SOURCE_FILE: mapped[SOURCE_FILE].astype("str"),
            SOURCE_LINE: mapped[SOURCE_LINE].astype("int64"),
            **fields,
            "guard_start": pd.to_datetime(windows.start.view("datetime64[ns]")).tz_localize("UTC"),
            "guard_end": pd.to_datetime(windows.end.view("datetime64[ns]")).tz_localize("UTC"),
        },
        index=mapped.index,
    )
    ok = ~faults.invalid
    valid = rows_where(contacts, ok)
    before = int(ok.sum())
    _five9_contract_faults(valid, options.e164, faults)
    ok = ~faults.invalid
    return NormalisedBatch(
        contacts=valid if ok.sum() == before else rows_where(contacts, ok),
        zones=rows_where(windows.zone, ok),
        invalid=reject_rows(frame, ~ok, "invalid", faults.reason),
    )


# Up to one row in this many is "a few" to `rows_where`.
_FEW_ROWS = 8


def rows_where(rows: _Rows, mask: np.ndarray, shared: dict[int, Any] | None = None) -> _Rows:
    """The rows where `mask` holds; `rows` itself, uncopied, when it holds for all of them.

    A few rows are taken by position; more are filtered, a frame column by column (its own
    boolean indexing takes them by position, which costs an Arrow column twice a filter).
    `shared`: Arrow columns already filtered by this same mask (for another frame that holds
    the same arrays), by the identity of their arrays; those filtered here are added."""
    if mask.all():
        return rows
    if np.count_nonzero(mask) * _FEW_ROWS <= len(mask):
        return rows.take(np.flatnonzero(mask))
    if isinstance(rows, pd.Series) or not rows.columns.is_unique:
        return rows[mask]
    kept: dict[str, Any] = {}
    for name in rows.columns:
        array = rows[name].array
        if shared is None or not isinstance(array, pd.arrays.ArrowExtensionArray):
            kept[name] = array[mask]
            continue
        key = id(array.__arrow_array__())
        if key not in shared:
            shared[key] = array[mask]
        kept[name] = shared[key]
    return pd.DataFrame(kept, index=rows.index[mask], columns=rows.columns, copy=False)


def _five9_contract_faults(contacts: pd.DataFrame, e164: bool, faults: RowFaults) -> None:
    """The last gate before the sink. A row the transforms let through that Five9 would refuse
    is a defect, but the row is still not lost: it is set aside with the failed check named."""
    try:
        five9_schema(e164=e164).validate(contacts, lazy=True, inplace=True)
    except pa.errors.SchemaErrors as errors:
        batch = faults.reason.index
        for (column, check), group in errors.failure_cases.groupby(
            ["column", "check"], dropna=False
        ):
            labels = group["index"].dropna()
            targets = contacts.index if labels.empty else pd.Index(labels.astype(int))
            faults.add(batch.isin(targets), f"fails the Five9 contract: {column} {check}")


def reject_rows(
    frame: pd.DataFrame, mask: np.ndarray, bucket: str, reason: pd.Series | str
) -> pd.DataFrame:
    """Rows set aside: origin, bucket, reason, then the source's original values as text."""
    rows = rows_where(frame, mask) if mask.any() else frame.iloc[:0]
    originals = [c for c in frame.columns if c not in INTERNAL_FIELDS]
    out = pd.DataFrame(
        {
            SOURCE_FILE: rows[SOURCE_FILE].astype("str"),
            SOURCE_LINE: rows[SOURCE_LINE].astype("int64"),
            "bucket": bucket,
            "reason": reason.reindex(rows.index) if isinstance(reason, pd.Series) else reason,
        },
        index=rows.index,
    )
    values = rows[originals].astype("str")
    out = pd.concat([out, values], axis=1)
    if RAW_RECORD in rows.columns:
        out[RAW_RECORD] = rows[RAW_RECORD].astype("str")
    return out
