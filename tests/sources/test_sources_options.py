"""ReadOptions checks its settings."""

from __future__ import annotations

import pytest

from schemas.errors import SettingError
from sources import ReadOptions


@pytest.mark.parametrize(
    ("given", "kept"),
    [("utf-8", "utf-8"), ("UTF8", "utf-8"), ("latin1", "latin-1"), ("ISO-8859-1", "latin-1")],
)
def test_encoding_aliases(given: str, kept: str) -> None:
    assert ReadOptions(encoding=given).encoding == kept


@pytest.mark.parametrize(
    "options",
    [
        {"encoding": "cp1252"},
        {"encoding": "klingon"},
        {"delimiter": ";;"},
        {"delimiter": '"'},
        {"delimiter": "\n"},
        {"batch_rows": 0},
        {"block_bytes": 0},
    ],
)
def test_bad_settings_are_setting_errors(options: dict[str, object]) -> None:
    with pytest.raises(SettingError):
        ReadOptions(**options)  # type: ignore[arg-type]
