"""What the run ledger keeps of a row it may send again (a dead letter, an open SOAP import's
row): the contact as it would be sent (its Five9 fields and its guard window), and the way back
from that payload to a chunk. The one place that writes and reads the payload's shape."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from schemas.fields import GUARD_FIELDS, SOURCE_FILE, SOURCE_LINE
from sinks.chunk import Chunk

PAYLOAD_TIME = "%Y-%m-%dT%H:%M:00Z"  # guard times exact to the minute, in UTC


@dataclass(frozen=True)
class DeadLetter:
    """A row that did not land (or an open import's row): its payload as it would be sent,
    and why."""

    list_name: str
    run_id: str
    row_code: int
    source_file: str
    source_line: int
    payload: dict[str, Any]
    bucket: str
    error: str
    http_status: int | None
    attempts: int


def payloads(contacts: pd.DataFrame) -> list[dict[str, Any]]:
    """Each contact as it would be sent: its Five9 fields (blank ones left out) and its window."""
    fields = [c for c in contacts.columns if c not in (SOURCE_FILE, SOURCE_LINE)]
    out = []
    for row in contacts[fields].to_dict(orient="records"):
        guard = {"start": row.pop("guard_start"), "end": row.pop("guard_end")}
        out.append(
            {
                "fields": {k: str(v) for k, v in row.items() if isinstance(v, str)},
                "guardTime": {k: v.strftime(PAYLOAD_TIME) for k, v in guard.items()},
            }
        )
    return out


def record_key(payload: dict[str, Any], fields: Sequence[str]) -> tuple[str, ...]:
    """The values of a kept row's key `fields` (as text; a blank field is "None", as a
    missing one was always read)."""
    values = payload["fields"]
    return tuple(str(values.get(name)) for name in fields)


def letters_frame(letters: Sequence[DeadLetter]) -> pd.DataFrame:
    """Kept rows back into the Five9 contract's columns, in their order."""
    frame = pd.DataFrame(
        [
            {
                SOURCE_FILE: letter.source_file,
                SOURCE_LINE: letter.source_line,
                **letter.payload["fields"],
                "guard_start": letter.payload["guardTime"]["start"],
                "guard_end": letter.payload["guardTime"]["end"],
            }
            for letter in letters
        ]
    )
    for bound in GUARD_FIELDS:
        frame[bound] = pd.to_datetime(frame[bound], utc=True).astype("datetime64[ns, UTC]")
    text = [c for c in frame.columns if c not in (SOURCE_LINE, *GUARD_FIELDS)]
    return frame.astype(dict.fromkeys(text, "str"))


def letters_chunk(number: int, letters: Sequence[DeadLetter]) -> Chunk:
    """Kept rows (dead letters, an open import's rows) as a chunk to send or settle, in their
    order."""
    contacts = letters_frame(letters)
    codes: npt.NDArray[np.int64] = np.array([d.row_code for d in letters], dtype=np.int64)
    return Chunk(number, contacts, contacts.drop(columns=list(GUARD_FIELDS)), codes)
