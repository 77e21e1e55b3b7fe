"""Raw SOAP calls to the sandbox for its own tests: envelopes built with lxml, sent with httpx,
answers read back with lxml (no client library between the test and the wire), and every
answer held to the WSDL's schema, as Five9's published types declare it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import httpx
from lxml import etree

from five9_sandbox import SandboxServer
from five9_sandbox.soap_envelope import wsdl_schema

ENV = "http://schemas.xmlsoap.org/soap/envelope/"
NS = "http://service.admin.ws.five9.com/"
PATH = "/wsadmin/v13/AdminWebService"
START_MS = "1796133600000"  # 2026-12-01T14:00:00Z


@dataclass(frozen=True)
class SoapAnswer:
    status: int
    root: etree._Element | None

    @property
    def fault(self) -> str | None:
        """The fault's detail element name, or None for a normal answer."""
        if self.root is None:
            return None
        detail = self.root.find(f".//{{{ENV}}}Fault/detail")
        return None if detail is None else etree.QName(detail[0]).localname

    def returned(self) -> etree._Element:
        assert self.root is not None
        found = self.root.find(f".//{{{ENV}}}Body/*/return")
        assert found is not None, etree.tostring(self.root)
        return found


def assert_declared(root: etree._Element) -> None:
    """The answer's operation element is valid against the WSDL's schema: every element
    declared, in order, required ones present, numbers and booleans well formed."""
    body = root.find(f"{{{ENV}}}Body")
    assert body is not None
    assert len(body) == 1, etree.tostring(root)
    schema = wsdl_schema()
    assert schema.validate(body[0]), schema.error_log.filter_from_errors()[0].message


def envelope(operation: str) -> tuple[etree._Element, etree._Element]:
    root = etree.Element(f"{{{ENV}}}Envelope", nsmap={"soapenv": ENV, "ser": NS})
    body = etree.SubElement(root, f"{{{ENV}}}Body")
    return root, etree.SubElement(body, f"{{{NS}}}{operation}")


def sub(parent: etree._Element, name: str, text: str | None = None) -> etree._Element:
    element = etree.SubElement(parent, name)
    element.text = text
    return element


def add_records(
    list_name: str,
    rows: Sequence[Sequence[str]],
    fields: Sequence[str] = ("number1", "first_name"),
    keys: Sequence[str] = ("number1",),
) -> etree._Element:
    """asyncAddRecordsToList with the call time in the column after `fields`."""
    root, operation = envelope("asyncAddRecordsToList")
    sub(operation, "listName", list_name)
    settings = sub(operation, "listUpdateSettings")
    for number, name in enumerate(fields, start=1):
        entry = sub(settings, "fieldsMapping")
        sub(entry, "columnNumber", str(number))
        sub(entry, "fieldName", name)
        sub(entry, "key", "true" if name in keys else "false")
    sub(settings, "skipHeaderLine", "false")
    sub(settings, "callTimeColumnNumber", str(len(fields) + 1))
    sub(settings, "cleanListBeforeUpdate", "false")
    sub(settings, "crmAddMode", "ADD_NEW")
    sub(settings, "crmUpdateMode", "UPDATE_FIRST")
    sub(settings, "listAddMode", "ADD_FIRST")
    data = sub(operation, "importData")
    for row in rows:
        values = sub(data, "values")
        for cell in row:
            sub(values, "item", cell)
    return root


def by_identifier(operation: str, identifier: str, wait: str | None = None) -> etree._Element:
    root, element = envelope(operation)
    sub(sub(element, "identifier"), "identifier", identifier)
    if wait is not None:
        sub(element, "waitTime", wait)
    return root


def numbered_rows(count: int, first: int = 2_000_000_000) -> list[list[str]]:
    return [[str(first + i), f"Name{i}", START_MS] for i in range(count)]


class SoapCaller:
    """Posts envelopes to one sandbox as its admin user (or as told)."""

    def __init__(self, server: SandboxServer, password: str | None = None) -> None:
        settings = server.sandbox.settings
        self.server = server
        self.client = httpx.Client(
            base_url=server.base_url,
            auth=(settings.username, password or settings.password),
            timeout=10.0,
        )

    def call(self, root: etree._Element) -> SoapAnswer:
        answer = self.client.post(
            PATH,
            content=etree.tostring(root, xml_declaration=True, encoding="UTF-8"),
            headers={"Content-Type": "text/xml; charset=utf-8"},
        )
        if not answer.headers.get("content-type", "").startswith("text/xml"):
            return SoapAnswer(answer.status_code, None)
        root = etree.fromstring(answer.content)
        if answer.status_code == 200:
            assert_declared(root)
        return SoapAnswer(answer.status_code, root)

    def close(self) -> None:
        self.client.close()
