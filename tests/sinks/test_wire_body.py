"""The upload body, built column-wise, is byte for byte what json.dumps writes row by row."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from contacts_etl.chunking import chunks_of
from contacts_etl.pipeline import ReadyBatch
from sinks.rest_format import UploadModes, chunk_body, contact_objects, upload_body

MODES = UploadModes(keys=("number1", "account"))


def reference_body(contacts: pd.DataFrame, modes: UploadModes) -> bytes:
    """The body as json.dumps writes it, one contact at a time (the earlier implementation)."""
    fields = [c for c in contacts.columns if c not in ("source_file", "source_line")]
    fields = [c for c in fields if c not in ("guard_start", "guard_end")]
    rows = []
    for _, row in contacts.iterrows():
        present = {name: row[name] for name in fields if isinstance(row[name], str)}
        rows.append(
            {
                "fields": present,
                "guardTime": {
                    "start": row["guard_start"].strftime("%Y-%m-%dT%H:%M:00Z"),
                    "end": row["guard_end"].strftime("%Y-%m-%dT%H:%M:00Z"),
                },
            }
        )
    payload = {
        "keys": list(modes.keys),
        "crmAddMode": modes.crm_add_mode,
        "crmUpdateMode": modes.crm_update_mode,
        "listAddMode": modes.list_add_mode,
        "contacts": rows,
    }
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


TEXT = st.one_of(st.none(), st.text(max_size=12), st.sampled_from(['a"b', "c\\d", "e\nf", "é✓"]))


@settings(max_examples=150)
@given(
    st.lists(
        st.tuples(TEXT, TEXT, st.integers(0, 10**8), st.text(max_size=5)), min_size=1, max_size=15
    )
)
def test_column_wise_body_equals_json_dumps(
    rows: list[tuple[str | None, str | None, int, str]],
) -> None:
    # Guard times from 2027 to the 2210s; a field always present between two that may not be.
    start = pd.Timestamp("2027-12-01T14:00Z") + pd.to_timedelta([r[2] for r in rows], "min")
    contacts = pd.DataFrame(
        {
            "source_file": "t.csv",
            "source_line": np.arange(2, len(rows) + 2),
            "number1": pd.Series([r[0] for r in rows], dtype="str"),
            "city": pd.Series([r[3] for r in rows], dtype="str"),
            'odd "name"\\': pd.Series([r[1] for r in rows], dtype="str"),
            "guard_start": start,
            "guard_end": start + pd.Timedelta(hours=8),
        }
    )
    body = upload_body(contacts, MODES)
    assert body == reference_body(contacts, MODES)
    assert len(json.loads(body)["contacts"]) == len(rows)


def test_objects_made_ahead_give_the_same_body_for_any_slice() -> None:
    start = pd.Timestamp("2027-12-01T14:00Z")
    contacts = pd.DataFrame(
        {
            "number1": pd.Series(["5551208111", "5551208112", None, "5551208113"], dtype="str"),
            "guard_start": [start] * 4,
            "guard_end": [start + pd.Timedelta(hours=1)] * 4,
        }
    )
    objects = contact_objects(contacts)
    part = np.array([True, False, True, True])
    assert upload_body(contacts[part], MODES, objects[part]) == upload_body(contacts[part], MODES)


def test_chunks_across_batches_send_the_same_bodies_as_contacts_encoded_alone() -> None:
    # Objects made a batch at a time, cut into chunks across batch boundaries (and parts of a
    # chunk, as a resend takes them): each body is what its contacts alone encode to.
    start = pd.Timestamp("2027-12-01T14:00Z")
    batches = []
    for first, rows in ((0, 7), (7, 1), (8, 12)):
        numbers = [f"55512{n:05d}" if n % 4 else None for n in range(first, first + rows)]
        contacts = pd.DataFrame(
            {
                "number1": pd.Series([f"55513{n:05d}" for n in range(first, first + rows)]),
                "first_name": pd.Series(numbers, dtype="str"),
                "guard_start": start + pd.to_timedelta(range(first, first + rows), "min"),
                "guard_end": start + pd.Timedelta(hours=9),
            }
        ).astype({"number1": "str"})
        codes = np.arange(first, first + rows, dtype=np.int64)
        batches.append(ReadyBatch(contacts, pd.Series(["UTC"] * rows), contacts, codes))
    chunks = list(chunks_of(iter(batches), 5, contact_objects))
    assert [len(c.codes) for c in chunks] == [5, 5, 5, 5]
    whole = pd.concat([b.contacts for b in batches], ignore_index=True)
    for number, chunk in enumerate(chunks):
        # The body made from the batch's objects, before the chunk's frames are sliced.
        body = chunk_body(chunk, MODES)
        expected = whole.iloc[number * 5 : number * 5 + 5]
        assert body == reference_body(expected, MODES)
        assert chunk.contacts["number1"].tolist() == expected["number1"].tolist()
        assert upload_body(chunk.contacts, MODES, chunk.prepared) == body
        part = chunk.part(np.arange(len(chunk.codes)) % 2 == 0)
        assert upload_body(part.contacts, MODES, part.prepared) == reference_body(
            part.contacts, MODES
        )
