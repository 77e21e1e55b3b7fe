"""SOAP 1.1 envelopes for the sandbox's AdminWebService, read and written with lxml (never by
string concatenation).

Requests are document/literal: the Body holds one element in the Five9 namespace named after
the operation; its children are unqualified (JAX-WS's default) [assumed]. Answers wrap the
result in ``<{operation}Response><return>``. Faults are SOAP 1.1 faults whose ``detail`` holds
one element naming the fault, e.g. ``ImportSizeLimitExceededFault`` (docs/five9-contract.md).
"""

from __future__ import annotations

import copy
from collections.abc import Iterable
from functools import cache
from importlib import resources

from lxml import etree

SOAP_ENV = "http://schemas.xmlsoap.org/soap/envelope/"
FIVE9_NS = "http://service.admin.ws.five9.com/"
WSDL_NS = "http://schemas.xmlsoap.org/wsdl/"
WSDL_SOAP_NS = "http://schemas.xmlsoap.org/wsdl/soap/"
_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False)


class EnvelopeError(Exception):
    """The request is not a SOAP envelope with one operation in the Five9 namespace."""


def read_request(raw: bytes) -> tuple[str, etree._Element]:
    """The operation's name and its element."""
    try:
        root = etree.fromstring(raw, _PARSER)
    except etree.XMLSyntaxError as error:
        raise EnvelopeError(f"not XML: {error}") from None
    if root.tag != f"{{{SOAP_ENV}}}Envelope":
        raise EnvelopeError("the root element is not a SOAP 1.1 Envelope")
    body = root.find(f"{{{SOAP_ENV}}}Body")
    operations = [] if body is None else [child for child in body if isinstance(child.tag, str)]
    if len(operations) != 1:
        raise EnvelopeError("the Body must hold exactly one operation")
    qname = etree.QName(operations[0])
    if qname.namespace != FIVE9_NS:
        raise EnvelopeError(f"operation {qname.localname!r} is not in {FIVE9_NS}")
    operation = operations[0]
    schema = wsdl_schema()
    if not schema.validate(operation):
        first = schema.error_log.filter_from_errors()[0]
        raise EnvelopeError(f"{qname.localname} does not match the WSDL's schema: {first.message}")
    return qname.localname, operation


@cache
def wsdl_schema() -> etree.XMLSchema:
    """The XML Schema inside the WSDL: a request Five9's JAX-WS would not read (an element out
    of order or unknown, a required one missing, a number that is not one) is refused, and
    the tests hold every answer to it too."""
    source = resources.files("sinks") / "wsdl" / "AdminWebService.wsdl"
    wsdl = etree.fromstring(source.read_bytes(), _PARSER)
    xs = "http://www.w3.org/2001/XMLSchema"
    found = wsdl.find(f"{{{WSDL_NS}}}types/{{{xs}}}schema")
    assert found is not None
    # On its own the schema needs the prefixes its types name (declared on the WSDL's root).
    schema = etree.Element(f"{{{xs}}}schema", dict(found.attrib), nsmap={"xs": xs, "tns": FIVE9_NS})
    schema.extend(copy.deepcopy(child) for child in found)
    return etree.XMLSchema(schema)


def child_text(element: etree._Element | None, name: str) -> str | None:
    """The text of the unqualified child `name`, or None when it is absent."""
    if element is None:
        return None
    found = element.find(name)
    return None if found is None else (found.text or "")


def _envelope() -> tuple[etree._Element, etree._Element]:
    root = etree.Element(f"{{{SOAP_ENV}}}Envelope", nsmap={"env": SOAP_ENV})
    return root, etree.SubElement(root, f"{{{SOAP_ENV}}}Body")


def add(parent: etree._Element, name: str, text: object = None) -> etree._Element:
    """Append an unqualified child (with text, when given)."""
    element = etree.SubElement(parent, name)
    if text is not None:
        element.text = str(text).lower() if isinstance(text, bool) else str(text)
    return element


def answer(operation: str) -> etree._Element:
    """The ``<return>`` element of an empty answer envelope, for the caller to fill (then
    ``to_bytes`` gives the whole document)."""
    return answer_many(operation, 1)[0]


def to_bytes(element: etree._Element) -> bytes:
    """The whole document the element belongs to, as UTF-8 with a declaration."""
    return bytes(etree.tostring(element.getroottree(), xml_declaration=True, encoding="UTF-8"))


def answer_many(operation: str, count: int) -> list[etree._Element]:
    """An answer envelope with `count` ``<return>`` elements (for list results)."""
    _root, body = _envelope()
    response = etree.SubElement(body, f"{{{FIVE9_NS}}}{operation}Response", nsmap={"ns2": FIVE9_NS})
    returns = [add(response, "return") for _ in range(count)]
    return returns or [response]


def fault(name: str, message: str, code: str = "Server") -> bytes:
    """A SOAP 1.1 fault whose detail names `name` (e.g. ``ListNotFoundFault``)."""
    root, body = _envelope()
    element = etree.SubElement(body, f"{{{SOAP_ENV}}}Fault")
    add(element, "faultcode").text = f"env:{code}"
    add(element, "faultstring", message)
    detail = add(element, "detail")
    named = etree.SubElement(detail, f"{{{FIVE9_NS}}}{name}", nsmap={"ns2": FIVE9_NS})
    add(named, "message", message)
    return to_bytes(root)


def wsdl_document(address: str) -> bytes:
    """The project's WSDL (shipped in ``sinks/wsdl``) with the service address set."""
    source = resources.files("sinks") / "wsdl" / "AdminWebService.wsdl"
    root = etree.fromstring(source.read_bytes(), _PARSER)
    for location in root.iter(f"{{{WSDL_SOAP_NS}}}address"):
        location.set("location", address)
    return to_bytes(root)


def rows_of(import_data: etree._Element | None) -> list[list[str]]:
    """``importData``: each ``<values>`` a row of ``<item>`` strings (nil or empty -> "")."""
    if import_data is None:
        return []
    return [
        [item.text or "" for item in row.findall("item")] for row in import_data.findall("values")
    ]


def all_children(element: etree._Element | None, name: str) -> Iterable[etree._Element]:
    """The unqualified children called `name`."""
    return [] if element is None else element.findall(name)
