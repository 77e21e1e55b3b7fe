"""What can be wrong with a run's input or settings: the error types every layer raises.

Each error states a fact about the data or a setting, in one line that holds no secret. A
message about a setting carries the setting's plain name (`setting`, e.g. "keys"), and one
about a value worth trying carries it as a `hint`; the edge that shows the error (the command
line, a flow, a deployments file) words them with its own names: `--key` on the command line,
`keys` among a flow's parameters.
"""

from __future__ import annotations

from collections.abc import Mapping


class ContactsEtlError(Exception):
    """A fatal problem with the user's input or settings; the message is one line, no secrets."""

    exit_code = 2

    def __init__(
        self, message: str, *, setting: str | None = None, hint: tuple[str, str] | None = None
    ) -> None:
        """`setting`: the setting the message is about (its name goes before the message);
        `hint`: a (setting, value) worth trying (said after it)."""
        super().__init__(message)
        self.setting = setting
        self.hint = hint

    def worded(self, names: Mapping[str, str] | None = None) -> str:
        """The message on one line, each setting under the name `names` gives it (its plain
        name when `names` has none)."""
        names = names or {}
        text = str(self.args[0]) if self.args else ""
        if self.setting:
            text = f"{names.get(self.setting, self.setting)} {text}"
        if self.hint:
            setting, value = self.hint
            text = f"{text}; try {names.get(setting, setting)} {value}"
        return " ".join(text.split())

    def __str__(self) -> str:
        """The message with the settings' plain names, on one line (line breaks folded)."""
        return self.worded()


class SourceError(ContactsEtlError):
    """A source file cannot be read as a whole (missing, empty, unreadable, bad header)."""


class MappingError(ContactsEtlError):
    """The mapping file is missing, malformed, or does not fit the source's columns."""


class SettingError(ContactsEtlError):
    """A setting (option or environment variable) has a value the pipeline cannot use."""
