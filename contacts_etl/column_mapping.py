"""The mapping file (TOML) that renames a source's columns to the canonical ones.

    [columns]
    "Mobile Phone" = "number1"
    "Call From" = "guard_start"

Columns it does not name keep their names: canonical names are used as they are, and any other
column passes through as a custom Five9 field.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from schemas.errors import MappingError, SourceError
from schemas.fields import INTERNAL_FIELDS, REQUIRED_FIELDS

# Names the outputs use for their own columns; a source column may not end up with one.
RESERVED = frozenset({*INTERNAL_FIELDS, "bucket", "reason"})
# Every source column becomes a Five9 field (standard or custom). A Five9 domain holds some
# hundreds of contact fields, so a file far wider than this is an export mistake, refused at
# once rather than read for minutes column by column.
MAX_COLUMNS = 1000


@dataclass(frozen=True)
class ColumnMapping:
    """Source column name -> canonical (or custom) field name."""

    renames: dict[str, str] = field(default_factory=dict)
    origin: str = "no mapping file"

    @classmethod
    def load(cls, path: Path | str | None) -> ColumnMapping:
        """Read a mapping file; None means no mapping (columns keep their names)."""
        if path is None:
            return cls()
        path = Path(path)
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise MappingError(f"mapping file {path} does not exist") from None
        except (OSError, UnicodeDecodeError) as error:
            raise MappingError(f"mapping file {path} cannot be read: {error}") from None
        except tomllib.TOMLDecodeError as error:
            raise MappingError(f"mapping file {path} is not valid TOML: {error}") from None
        columns = data.get("columns")
        if not isinstance(columns, dict) or not columns:
            raise MappingError(
                f'mapping file {path} needs a [columns] table of "source name" = "field" lines'
            )
        renames: dict[str, str] = {}
        for source, target in columns.items():
            if not isinstance(target, str) or not target.strip():
                raise MappingError(
                    f"mapping file {path}: {source!r} must map to a field name in quotes"
                )
            renames[source.strip()] = target.strip()
        targets = list(renames.values())
        for target in set(targets):
            if targets.count(target) > 1:
                sources = [s for s, t in renames.items() if t == target]
                raise MappingError(
                    f"mapping file {path} maps several columns to {target!r}: {sources}"
                )
        return cls(renames, str(path))

    def resolve(self, columns: list[str], source: str) -> dict[str, str]:
        """The renames for one source's header; a mapping that does not fit it is fatal."""
        if len(columns) > MAX_COLUMNS:
            raise SourceError(
                f"{source}: {len(columns):,} columns; a Five9 contact takes at most "
                f"{MAX_COLUMNS:,} fields (export only the columns to load)"
            )
        missing = [name for name in self.renames if name not in columns]
        if missing:
            raise MappingError(
                f"{self.origin} maps {missing[0]!r}, but {source} has no such column "
                f"(its columns: {_sample(columns)})"
            )
        renamed = [self.renames.get(name, name) for name in columns]
        for name in renamed:
            if renamed.count(name) > 1:
                raise MappingError(
                    f"{source}: after the mapping ({self.origin}) two columns are named {name!r}"
                )
            if name in RESERVED:
                raise SourceError(
                    f"{source}: the column name {name!r} is reserved for the pipeline's own "
                    "use; map it to another name"
                )
        absent = [name for name in REQUIRED_FIELDS if name not in renamed]
        if absent:
            raise SourceError(
                f"{source}: no column for {', '.join(absent)} ({self.origin}; "
                f"its columns: {_sample(columns)}); name them in a mapping file"
            )
        return {old: new for old, new in zip(columns, renamed, strict=True) if old != new}


def _sample(columns: list[str], most: int = 8) -> str:
    shown = ", ".join(repr(c) for c in columns[:most])
    return shown + (f" and {len(columns) - most} more" if len(columns) > most else "")
