"""A local Five9 stand-in served over real HTTP, as strict as Five9 (docs/five9-contract.md):
the REST calls and the legacy SOAP AdminWebService.

It is the embedded default target of the pipeline and the peer every test talks to on
loopback. Layout, one concern a module:

- ``settings`` / ``faults``: ``SandboxSettings`` and ``FaultPlan`` (what a test configures);
- ``upload_contract``: the REST upload body, entirely [assumed], and its 400 rules;
- ``phone_rules``: Five9 number rules [confirmed]; ``importer``: per-row ``importTroubles``;
- ``rate_window``: the sliding-window log per credential;
- ``state``: ``Sandbox``, the thread-safe in-memory domain;
- ``soap_imports``: the SOAP user, its two windows and asynchronous import jobs;
  ``soap_envelope``: SOAP envelopes with lxml; ``soap_app``: the SOAP routes and WSDL;
- ``rest_app`` / ``inspection`` / ``app``: HTTP routes; ``connection_drop``: hanging up;
- ``server``: ``SandboxServer`` (background thread) and ``serve_forever`` (blocking).
"""

from __future__ import annotations

from five9_sandbox.app import create_app
from five9_sandbox.faults import FaultPlan
from five9_sandbox.importer import DroppedContact, SandboxRecord
from five9_sandbox.server import SandboxServer, serve_forever
from five9_sandbox.settings import SandboxSettings
from five9_sandbox.state import Sandbox

__all__ = [
    "DroppedContact",
    "FaultPlan",
    "Sandbox",
    "SandboxRecord",
    "SandboxServer",
    "SandboxSettings",
    "create_app",
    "serve_forever",
]
