"""Deployments: a nightly `load-contacts` per list on a cron in an IANA time zone, and an
on-demand `preview-contacts`, served by `contacts-etl serve` from a TOML file:

    [[nightly]]
    list = "Nightly Renewals"
    sources = ["/data/exports/renewals/*.csv"]
    cron = "0 2 * * *"
    timezone = "America/New_York"   # the schedule's zone
    # optional: mapping, default_zone, calling_hours, keys, delimiter, encoding, state_url

Each list's deployment admits one run at a time (a deployment concurrency limit of 1), so
two loads of the same list never overlap.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from prefect import serve
from prefect.deployments.runner import RunnerDeployment
from prefect.schedules import Cron

from flows.load_contacts import load_contacts
from flows.preview_contacts import preview_contacts
from schemas.errors import SettingError
from schemas.fields import DEFAULT_KEYS, DEFAULT_ZONE
from sinks.state_store import without_password
from sources import ReadOptions
from transforms.calling_hours import CallingHours
from transforms.normalise import check_keys
from transforms.zones import check_default_zone

T = TypeVar("T")


@dataclass(frozen=True)
class NightlyLoad:
    """One list's nightly load."""

    list_name: str
    sources: list[str]
    cron: str
    timezone: str
    mapping: str | None = None
    default_zone: str = DEFAULT_ZONE
    calling_hours: str | None = None
    keys: tuple[str, ...] = DEFAULT_KEYS
    delimiter: str | None = None
    encoding: str = "utf-8"
    state_url: str | None = None
    """The state store every worker shares (a database URL), when the entry names one."""

    @property
    def deployment_name(self) -> str:
        return "nightly-" + re.sub(r"[^a-z0-9]+", "-", self.list_name.lower()).strip("-")

    def parameters(self) -> dict[str, Any]:
        return {
            "sources": self.sources,
            "list_name": self.list_name,
            "mapping": self.mapping,
            "timezone": self.default_zone,
            "calling_hours": self.calling_hours,
            "keys": list(self.keys),
            "delimiter": self.delimiter,
            "encoding": self.encoding,
            "state_url": self.state_url,
        }


def _beside(folder: Path, text: str) -> str:
    """A file, folder or glob pattern named in a deployments file: relative ones are read from
    the file's own folder (not from wherever `serve` was started)."""
    named = Path(text).expanduser()
    return str(named if named.is_absolute() else folder / named)


ENTRY_KEYS = (
    *("list", "sources", "cron", "timezone"),  # required
    *("mapping", "default_zone", "calling_hours", "keys", "delimiter", "encoding", "state_url"),
)


def read_nightly_loads(path: Path) -> list[NightlyLoad]:
    """The [[nightly]] entries of a deployments file, checked as far as they can be before
    02:00 (a mistyped key, a bad cron or calling hours, a missing mapping file: one line
    naming the file and the entry); relative sources and mapping files are taken from the
    deployments file's folder. Sources may not exist yet: tonight's export lands later."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise SettingError(f"deployments file {path} does not exist") from None
    except tomllib.TOMLDecodeError as error:
        raise SettingError(f"deployments file {path} is not valid TOML: {error}") from None
    unknown = sorted(set(data) - {"nightly"})
    if unknown:
        raise SettingError(f"{path}: unknown section {unknown[0]!r} (only [[nightly]] entries)")
    entries = data.get("nightly", [])
    if not isinstance(entries, list):
        raise SettingError(
            f"{path}: write each load as [[nightly]] (a list of tables), not [nightly]"
        )
    loads = [_nightly_load(entry, f"{path} [[nightly]] #{n}", path.resolve().parent)
             for n, entry in enumerate(entries, start=1)]  # fmt: skip
    names = [load.deployment_name for load in loads]
    if len(set(names)) != len(names):
        raise SettingError(f"{path}: two [[nightly]] entries load the same list")
    return loads


def _nightly_load(entry: dict[str, Any], where: str, folder: Path) -> NightlyLoad:
    """One [[nightly]] entry, checked."""
    unknown = sorted(set(entry) - set(ENTRY_KEYS))
    if unknown:
        raise SettingError(f"{where}: unknown key {unknown[0]!r} (known: {', '.join(ENTRY_KEYS)})")
    missing = [key for key in ENTRY_KEYS[:4] if key not in entry]
    if missing:
        raise SettingError(f"{where}: missing {', '.join(missing)}")
    sources = entry["sources"]
    sources = [sources] if isinstance(sources, str) else sources
    if (
        not isinstance(sources, list)
        or not sources
        or not all(isinstance(s, str) and s.strip() for s in sources)
    ):
        raise SettingError(f"{where}: sources must be a list of files, folders or globs")
    cron, timezone = str(entry["cron"]), str(entry["timezone"])
    if len(cron.split()) != 5:
        raise SettingError(f"{where}: cron {cron!r} needs 5 fields")
    timezone = _checked(where, lambda: check_default_zone(timezone))
    try:
        Cron(cron, timezone=timezone)
    except ValueError:
        raise SettingError(f"{where}: cron {cron!r} is not a valid schedule") from None
    mapping = entry.get("mapping")
    if mapping is not None:
        mapping = _beside(folder, str(mapping))
        if not Path(mapping).is_file():
            raise SettingError(f"{where}: mapping file {mapping} does not exist")
    hours = entry.get("calling_hours")
    if hours is not None:
        _checked(where, lambda: CallingHours.parse(str(hours)))
    keys = entry.get("keys", list(DEFAULT_KEYS))
    keys = [keys] if isinstance(keys, str) else keys
    if not isinstance(keys, list) or not all(isinstance(k, str) for k in keys):
        raise SettingError(f"{where}: keys must be a list of field names")
    _checked(where, lambda: check_keys(keys))
    reading = _checked(
        where,
        lambda: ReadOptions(
            delimiter=None if entry.get("delimiter") is None else str(entry["delimiter"]),
            encoding=str(entry.get("encoding", "utf-8")),
        ),
    )
    return NightlyLoad(
        list_name=str(entry["list"]),
        sources=[_beside(folder, s) for s in sources],
        cron=cron,
        timezone=timezone,
        mapping=mapping,
        default_zone=_checked(
            where,
            lambda: check_default_zone(str(entry.get("default_zone", DEFAULT_ZONE))),
            {"timezone": "default_zone"},
        ),
        calling_hours=None if hours is None else str(hours),
        keys=tuple(keys),
        delimiter=reading.delimiter,
        encoding=reading.encoding,
        state_url=(
            None
            if entry.get("state_url") is None
            else _checked(where, lambda: without_password(str(entry["state_url"])))
        ),
    )


def _checked(where: str, check: Callable[[], T], names: dict[str, str] | None = None) -> T:
    """A check of one entry's values; its error names the entry, and each setting by the
    entry's key for it (`names`, where it is not the setting's own name)."""
    try:
        return check()
    except SettingError as error:
        raise SettingError(f"{where}: {error.worded(names)}") from None


def build_deployments(loads: list[NightlyLoad]) -> list[RunnerDeployment]:
    """The nightly load deployments and the on-demand preview."""
    deployments: list[RunnerDeployment] = [
        load_contacts.to_deployment(  # type: ignore[misc]
            name=load.deployment_name,
            schedule=Cron(load.cron, timezone=load.timezone),
            parameters=load.parameters(),
            concurrency_limit=1,
            tags=["five9", f"list:{load.list_name}"],
            description=f"Nightly load into Five9 list {load.list_name!r}",
        )
        for load in loads
    ]
    deployments.append(
        preview_contacts.to_deployment(  # type: ignore[arg-type]
            name="on-demand",
            parameters={"sources": []},
            tags=["five9", "preview"],
            description="Preview what a load would send; pass sources when you run it",
        )
    )
    return deployments


def serve_deployments(path: Path) -> None:
    """Register the deployments and run their flow runs here until stopped."""
    serve(*build_deployments(read_nightly_loads(path)), print_starting_message=True)
