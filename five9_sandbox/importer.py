"""Per-row import of an accepted upload into a list's record store, as Five9 reports it.

Rows are judged one by one; a row with a trouble is not loaded and the rest still is (like
Five9's ``importTroubles``). ``rowNumber`` is 1-based within the request. Order of the checks
for one row, the first that applies wins:

1. any of number1..number3 starts with "+" outside an E.164 domain: the contact is dropped
   SILENTLY (no trouble, not counted, not loaded), as Five9 does [confirmed]; the sandbox
   records it in ``Sandbox.dropped_e164`` and its events so a test can see it;
2. every key field empty or missing: ``AllKeyFieldsAreEmpty``;
3. a non-empty number1..number3 that breaks the phone rules: ``ParseError``
   "Value of field numberN has incorrect format" (the first such field);
4. no number at all (a new record needs one): ``ParseError`` [assumed message];
5. the key already loaded by an earlier row of the same request: ``DuplicateKey``; the first
   row wins, the later one is not loaded and is counted in ``uploadDuplicatesCount`` (not in
   ``uploadErrorsCount``) [assumed: the pipeline de-duplicates before sending, so a duplicate
   inside one request is a client bug made visible];
6. ``crmAddMode=DONT_ADD`` and the key is not in the list yet: ``NoMatchesInContacts``.

Storage [simplified]: the sandbox keeps one store per list, keyed by the tuple of the request's
``keys`` values. A new key is a CRM insert and a list insert; an existing key is a CRM update
whose fields and guard time replace the old ones (never a second copy), unless
``crmUpdateMode=DONT_UPDATE`` (then the row is accepted and nothing changes). Because a key
matches at most one record, ``UPDATE_FIRST``/``UPDATE_ALL``/``UPDATE_SOLE_MATCHES`` and the
three ``listAddMode`` values behave alike.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from five9_sandbox.phone_rules import PHONE_FIELDS, NumberVerdict, check_number, format_message
from five9_sandbox.upload_contract import UploadBody

RecordKey = tuple[str, ...]


@dataclass(frozen=True)
class SandboxRecord:
    """One stored contact: its fields and guard time ("YYYY-MM-DDTHH:MM:00Z" strings)."""

    fields: dict[str, str]
    guard_start: str
    guard_end: str
    writes: int = 1
    """How many accepted rows wrote this record (1 = inserted and never updated)."""
    written_at: float = field(default_factory=time.time, compare=False)
    """Wall-clock time of the last write: a test can check each window was still open then."""
    crm_id: int = field(default=0, compare=False)
    """The contact's id in the domain's CRM, given when it was inserted."""


@dataclass(frozen=True)
class DroppedContact:
    """A contact dropped silently because of a leading "+" outside E.164 mode."""

    list_name: str
    row_number: int
    field: str
    value: str


@dataclass
class ImportResult:
    list_name: str
    crm_inserted: int = 0
    crm_updated: int = 0
    list_inserted: int = 0
    duplicates: int = 0
    errors: int = 0
    troubles: list[dict[str, Any]] = field(default_factory=list)
    dropped: list[DroppedContact] = field(default_factory=list)
    imported: list[dict[str, Any]] = field(default_factory=list)
    """Rows taken: ``rowNumber``, ``crmId``, ``key`` (one per key field) and ``results``
    (``AddedToCRM``, ``UpdatedCRM``, ``AddedToList``)."""
    list_deleted: int = 0
    """Records removed from the list first (SOAP's ``cleanListBeforeUpdate``)."""

    def as_json(self) -> dict[str, Any]:
        return {
            "listName": self.list_name,
            "success": True,
            "crmRecordsInserted": self.crm_inserted,
            "crmRecordsUpdated": self.crm_updated,
            "listRecordsInserted": self.list_inserted,
            "uploadDuplicatesCount": self.duplicates,
            "uploadErrorsCount": self.errors,
            "importTroubles": self.troubles,
        }


def import_contacts(
    store: dict[RecordKey, SandboxRecord],
    body: UploadBody,
    *,
    list_name: str,
    e164: bool,
    crm_ids: Iterator[int],
) -> ImportResult:
    """Apply ``body`` to ``store`` (mutated in place) and report as Five9 would; a new record
    takes the next of ``crm_ids``."""
    result = ImportResult(list_name=list_name)
    seen: dict[RecordKey, int] = {}

    def trouble(row: int, kind: str, key: RecordKey, message: str) -> None:
        result.troubles.append(
            {"rowNumber": row, "kind": kind, "key": list(key), "troubleMessage": message}
        )
        if kind == "DuplicateKey":
            result.duplicates += 1
        else:
            result.errors += 1

    for row, contact in enumerate(body.contacts, start=1):
        values = contact.contact_fields
        key: RecordKey = tuple(values.get(name, "") for name in body.keys)
        verdicts = {
            name: check_number(values[name], e164=e164)
            for name in PHONE_FIELDS
            if values.get(name, "")
        }
        plus = [name for name, v in verdicts.items() if v is NumberVerdict.PLUS_OUTSIDE_E164]
        if plus:
            result.dropped.append(DroppedContact(list_name, row, plus[0], values[plus[0]]))
            continue
        if all(value == "" for value in key):
            trouble(
                row,
                "AllKeyFieldsAreEmpty",
                key,
                f"All key fields are empty ({', '.join(body.keys)})",
            )
            continue
        bad = [name for name, v in verdicts.items() if v is NumberVerdict.BAD_FORMAT]
        if bad:
            trouble(row, "ParseError", key, format_message(bad[0]))
            continue
        if not verdicts:
            trouble(row, "ParseError", key, "Contact has no phone number (number1..number3)")
            continue
        if key in seen:
            trouble(row, "DuplicateKey", key, f"Duplicate key: row {seen[key]} has the same key")
            continue
        seen[key] = row
        existing = store.get(key)
        if existing is None:
            if body.crm_add_mode == "DONT_ADD":
                trouble(
                    row, "NoMatchesInContacts", key, "No matching contact (crmAddMode DONT_ADD)"
                )
                continue
            crm_id = next(crm_ids)
            store[key] = SandboxRecord(
                dict(values), contact.guard_time.start, contact.guard_time.end, crm_id=crm_id
            )
            result.crm_inserted += 1
            result.list_inserted += 1
            taken = ["AddedToCRM", "AddedToList"]
        elif body.crm_update_mode != "DONT_UPDATE":
            crm_id = existing.crm_id
            store[key] = SandboxRecord(
                dict(values),
                contact.guard_time.start,
                contact.guard_time.end,
                writes=existing.writes + 1,
                crm_id=crm_id,
            )
            result.crm_updated += 1
            taken = ["UpdatedCRM"]
        else:
            continue
        result.imported.append(
            {"rowNumber": row, "crmId": crm_id, "key": list(key), "results": taken}
        )
    return result
