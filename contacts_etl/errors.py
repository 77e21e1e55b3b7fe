"""Errors a user can meet: each carries one clear line for the edge (command, flow) to show."""

from __future__ import annotations


class ContactsEtlError(Exception):
    """A fatal problem with the user's input or settings; the message is one line, no secrets."""

    exit_code = 2

    def __str__(self) -> str:
        """The message on one line, whatever a library put in it (line breaks folded)."""
        return " ".join(super().__str__().split())


class SourceError(ContactsEtlError):
    """A source file cannot be read as a whole (missing, empty, unreadable, bad header)."""


class MappingError(ContactsEtlError):
    """The mapping file is missing, malformed, or does not fit the source's columns."""


class SettingError(ContactsEtlError):
    """A setting (option or environment variable) has a value the pipeline cannot use."""
