"""Fixtures for the SOAP-path tests: the same clean environment as the REST sink tests."""

from __future__ import annotations

from tests.sinks.conftest import clean_environment

__all__ = ["clean_environment"]
