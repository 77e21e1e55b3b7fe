"""The REST upload body (docs/five9-contract.md, REST) and how strictly the sandbox reads it.

No public document gives this call: its whole shape is [assumed] and lives here, in one place.
The sandbox refuses with 400 ``{"error", "message"}`` (never FastAPI's 422):

- a body that is not a JSON object, unknown keys at any level, wrong types (the sandbox does
  not coerce: ``5551208111`` as a number is refused, field values must be strings);
- mode values other than those of the legacy ``listUpdateSettings``;
- ``keys`` empty, repeated, or naming a field that does not exist in the domain;
- zero contacts, or more than ``max_contacts``;
- a contact without ``guardTime`` (the pipeline always sends one; stricter than needed);
- a ``guardTime.start`` / ``end`` that is not exactly ``YYYY-MM-DDTHH:MM:00Z`` (a real date,
  seconds ``00``, ending in ``Z``), or an end not later than its start.

Optional with defaults [assumed]: ``keys`` (``["number1"]``), ``crmAddMode`` (``ADD_NEW``),
``crmUpdateMode`` (``UPDATE_FIRST``), ``listAddMode`` (``ADD_FIRST``).
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

STANDARD_FIELDS: frozenset[str] = frozenset(
    {
        "number1",
        "number2",
        "number3",
        "first_name",
        "last_name",
        "company",
        "street",
        "city",
        "state",
        "zip",
    }
)

GUARD_TIME_FORMAT = "%Y-%m-%dT%H:%M:00Z"
_GUARD_TIME = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:00Z")  # ASCII digits only

CrmAddMode = Literal["ADD_NEW", "DONT_ADD"]
CrmUpdateMode = Literal["UPDATE_FIRST", "UPDATE_ALL", "UPDATE_SOLE_MATCHES", "DONT_UPDATE"]
ListAddMode = Literal["ADD_FIRST", "ADD_ALL", "ADD_IF_SOLE_CRM_MATCH"]


class BadRequestError(Exception):
    """A request refused as a whole with 400 ``{"error": ..., "message": ...}``."""

    def __init__(self, error: str, message: str) -> None:
        super().__init__(message)
        self.error = error
        self.message = message


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class GuardTimeIn(_Strict):
    start: str
    end: str


class ContactIn(_Strict):
    contact_fields: dict[str, str] = Field(alias="fields")
    guard_time: GuardTimeIn = Field(alias="guardTime")


class UploadBody(_Strict):
    keys: list[str] = Field(default_factory=lambda: ["number1"])
    crm_add_mode: CrmAddMode = Field(default="ADD_NEW", alias="crmAddMode")
    crm_update_mode: CrmUpdateMode = Field(default="UPDATE_FIRST", alias="crmUpdateMode")
    list_add_mode: ListAddMode = Field(default="ADD_FIRST", alias="listAddMode")
    contacts: list[ContactIn]


def parse_guard_time(value: str, what: str) -> datetime:
    """Read an exact UTC minute or raise ``BadRequestError`` naming ``what``."""
    if not _GUARD_TIME.fullmatch(value):
        raise BadRequestError(
            "invalid_guard_time",
            f"{what} {value!r} is not an exact UTC minute (YYYY-MM-DDTHH:MM:00Z)",
        )
    try:
        return datetime.strptime(value, GUARD_TIME_FORMAT)
    except ValueError:
        raise BadRequestError(
            "invalid_guard_time", f"{what} {value!r} is not a real date"
        ) from None


def parse_upload(
    raw: bytes, *, max_contacts: int, custom_fields: frozenset[str] | None
) -> UploadBody:
    """Validate an upload body as a whole; raise ``BadRequestError`` on the first fault."""
    try:
        body = UploadBody.model_validate_json(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "body"
        raise BadRequestError("invalid_request", f"{where}: {first['msg']}") from None
    if not body.contacts:
        raise BadRequestError("invalid_request", "contacts: at least one contact is required")
    if len(body.contacts) > max_contacts:
        raise BadRequestError(
            "too_many_contacts",
            f"contacts: {len(body.contacts)} contacts, at most {max_contacts} per request",
        )
    known = None if custom_fields is None else STANDARD_FIELDS | custom_fields
    if not body.keys:
        raise BadRequestError("invalid_request", "keys: at least one key field is required")
    if len(set(body.keys)) != len(body.keys):
        raise BadRequestError("invalid_request", "keys: a key field is named twice")
    for name in body.keys:
        if not name or (known is not None and name not in known):
            raise BadRequestError("unknown_field", f"keys: field {name!r} does not exist")
    for index, contact in enumerate(body.contacts):
        where = f"contacts.{index}"
        for name in contact.contact_fields:
            if not name or (known is not None and name not in known):
                raise BadRequestError(
                    "unknown_field", f"{where}.fields: field {name!r} does not exist"
                )
        start = parse_guard_time(contact.guard_time.start, f"{where}.guardTime.start")
        end = parse_guard_time(contact.guard_time.end, f"{where}.guardTime.end")
        if end <= start:
            raise BadRequestError(
                "invalid_guard_time", f"{where}.guardTime: end is not later than start"
            )
    return body
