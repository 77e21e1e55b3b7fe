"""The deployments of `prefect.yaml`, read the way `prefect deploy` reads them, checked before
the night they run, and served from one process by `contacts-etl serve` (the single-machine
path: one description of the deployments for both).

Each deployment names one of this project's flows by its entrypoint, its parameters (checked
as the flow would check them: a mistyped name, a bad cron, time zone or calling hours, a
missing mapping file is one line naming the file and the deployment), its schedules (cron or
interval, each in a time zone), tags, and a concurrency limit (1 per list: two loads of one
list never overlap). Sources may not exist yet: tonight's export lands later.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any, TypeVar

import yaml
from prefect import Flow, serve
from prefect.deployments.runner import RunnerDeployment
from prefect.exceptions import ParameterTypeError
from prefect.schedules import Cron, Interval, Schedule

from flows.load_contacts import load_contacts
from flows.preview_contacts import preview_contacts
from schemas.errors import SettingError
from sinks.state_store import without_password
from sources import ReadOptions
from sources.storage import is_url
from transforms.calling_hours import CallingHours
from transforms.normalise import check_keys
from transforms.zones import check_default_zone

T = TypeVar("T")

FLOWS: dict[str, Flow[Any, Any]] = {
    "flows/load_contacts.py:load_contacts": load_contacts,
    "flows/preview_contacts.py:preview_contacts": preview_contacts,
}
# What a deployment of prefect.yaml may hold (Prefect's own keys; `serve` uses the first line).
DEPLOYMENT_KEYS = frozenset(
    {"name", "entrypoint", "parameters", "schedules", "concurrency_limit", "tags", "description"}
    | {"paused", "version", "work_pool", "pull", "build", "push", "enforce_parameter_schema"}
    | {"triggers", "sla", "version_type", "flow_name", "schedule", "job_variables"}
)
SCHEDULE_KEYS = frozenset({"cron", "interval", "timezone", "active", "day_or", "anchor_date"})
# Parameters naming local files: relative ones are read from prefect.yaml's folder.
FILE_PARAMETERS = ("mapping", "rejects", "report", "output", "state_dir")


@dataclass(frozen=True)
class Deployment:
    """One deployment of prefect.yaml, checked."""

    name: str
    flow: Flow[Any, Any]
    parameters: dict[str, Any]
    schedules: tuple[Schedule, ...] = ()
    concurrency_limit: int | None = None
    tags: tuple[str, ...] = ()
    description: str | None = None
    paused: bool = False
    where: str = field(default="", compare=False)

    @property
    def full_name(self) -> str:
        """`load-contacts/nightly-demo`, as `prefect deployment run` takes it."""
        return f"{self.flow.name}/{self.name}"

    def runner(self) -> RunnerDeployment:
        """The deployment for `serve` (runs in this process, not on a work pool)."""
        deployment: RunnerDeployment = self.flow.to_deployment(  # type: ignore[assignment]
            name=self.name,
            schedules=list(self.schedules),
            parameters=self.parameters,
            concurrency_limit=self.concurrency_limit,
            tags=list(self.tags),
            description=self.description,
            paused=self.paused,
        )
        return deployment


def read_deployments(path: Path) -> list[Deployment]:
    """The deployments of a prefect.yaml, checked; relative sources and files are taken from
    the file's folder (where `prefect deploy` runs and the worker's flows start)."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise SettingError(f"deployments file {path} does not exist") from None
    except yaml.YAMLError as error:
        reason = " ".join(str(error).split())
        raise SettingError(f"deployments file {path} is not valid YAML: {reason}") from None
    entries = data.get("deployments") if isinstance(data, dict) else None
    if not isinstance(entries, list) or not entries:
        raise SettingError(f"{path}: no `deployments:` list (see prefect.yaml in the project)")
    folder = path.resolve().parent
    deployments = [
        _deployment(entry, f"{path} deployment #{n}", folder)
        for n, entry in enumerate(entries, start=1)
    ]
    names = [deployment.full_name for deployment in deployments]
    for name in names:
        if names.count(name) > 1:
            raise SettingError(f"{path}: two deployments are named {name!r}")
    return deployments


def _deployment(entry: object, where: str, folder: Path) -> Deployment:
    if not isinstance(entry, dict):
        raise SettingError(f"{where}: each deployment is a mapping of keys")
    name = entry.get("name")
    if not isinstance(name, str) or not name.strip():
        raise SettingError(f"{where}: missing name")
    where = f"{where} ({name})"
    unknown = sorted(set(entry) - DEPLOYMENT_KEYS)
    if unknown:
        raise SettingError(f"{where}: unknown key {unknown[0]!r}")
    flow = FLOWS.get(str(entry.get("entrypoint")))
    if flow is None:
        raise SettingError(
            f"{where}: entrypoint {entry.get('entrypoint')!r} is none of {', '.join(FLOWS)}"
        )
    parameters = entry.get("parameters") or {}
    if not isinstance(parameters, dict):
        raise SettingError(f"{where}: parameters must be a mapping of names to values")
    tags = entry.get("tags") or []
    limit = entry.get("concurrency_limit")
    if isinstance(limit, dict):
        limit = limit.get("limit")
    if limit is not None and (not isinstance(limit, int) or limit < 1):
        raise SettingError(f"{where}: concurrency_limit must be a whole number of runs")
    return Deployment(
        name=name,
        flow=flow,
        parameters=_parameters(flow, parameters, where, folder),
        schedules=tuple(_schedule(item, where) for item in entry.get("schedules") or []),
        concurrency_limit=limit,
        tags=tuple(str(tag) for tag in (tags if isinstance(tags, list) else [tags])),
        description=entry.get("description"),
        paused=bool(entry.get("paused", False)),
        where=where,
    )


def _schedule(item: object, where: str) -> Schedule:
    if not isinstance(item, dict):
        raise SettingError(f"{where}: each schedule is a mapping (cron: ..., timezone: ...)")
    unknown = sorted(set(item) - SCHEDULE_KEYS)
    if unknown:
        raise SettingError(f"{where}: schedule key {unknown[0]!r} is not one serve takes")
    zone = str(item.get("timezone", "UTC"))
    timezone = _checked(where, lambda: check_default_zone(zone), {"timezone": "schedule timezone"})
    active = bool(item.get("active", True))
    if "cron" in item:
        cron = str(item["cron"])
        if len(cron.split()) != 5:
            raise SettingError(f"{where}: cron {cron!r} needs 5 fields")
        try:
            day_or = bool(item.get("day_or", True))
            return Cron(cron, timezone=timezone, day_or=day_or, active=active)
        except ValueError:
            raise SettingError(f"{where}: cron {cron!r} is not a valid schedule") from None
    if "interval" in item:
        seconds = item["interval"]
        if not isinstance(seconds, int | float) or seconds <= 0:
            raise SettingError(f"{where}: interval must be a number of seconds, not {seconds!r}")
        return Interval(timedelta(seconds=seconds), timezone=timezone, active=active)
    raise SettingError(f"{where}: a schedule needs a cron or an interval")


def _parameters(
    flow: Flow[Any, Any], given: dict[str, Any], where: str, folder: Path
) -> dict[str, Any]:
    """The parameters, checked as the flow will check them; relative files made absolute."""
    known = list(flow.parameters.properties)
    unknown = sorted(set(given) - set(known))
    if unknown:
        raise SettingError(
            f"{where}: {flow.name} has no parameter {unknown[0]!r} (it takes {', '.join(known)})"
        )
    missing = [name for name in flow.parameters.required or [] if name not in given]
    if missing:
        raise SettingError(f"{where}: parameters need {', '.join(missing)}")
    try:
        flow.validate_parameters(given)  # the types the UI form and the run enforce
    except ParameterTypeError as error:
        raise SettingError(f"{where}: {' '.join(str(error).split())}") from None
    parameters = dict(given)
    sources = parameters["sources"]
    if flow is load_contacts and not sources:
        raise SettingError(f"{where}: sources must name at least one file, folder, glob or URL")
    parameters["sources"] = [_beside(folder, source) for source in sources]
    for name in FILE_PARAMETERS:
        if parameters.get(name):
            parameters[name] = _beside(folder, str(parameters[name]))
    mapping = parameters.get("mapping")
    if mapping and not Path(mapping).is_file():
        raise SettingError(f"{where}: mapping file {mapping} does not exist")
    if parameters.get("timezone") is not None:
        _checked(where, lambda: check_default_zone(str(parameters["timezone"])))
    if parameters.get("calling_hours") is not None:
        _checked(where, lambda: CallingHours.parse(str(parameters["calling_hours"])))
    keys = parameters.get("keys")
    if keys is not None:
        if not isinstance(keys, list) or not all(isinstance(k, str) for k in keys):
            raise SettingError(f"{where}: keys must be a list of field names")
        _checked(where, lambda: check_keys(keys))
    reading = _checked(
        where,
        lambda: ReadOptions(
            delimiter=parameters.get("delimiter"),
            encoding=str(parameters.get("encoding", "utf-8")),
        ),
    )
    if "encoding" in parameters:
        parameters["encoding"] = reading.encoding
    if parameters.get("state_url"):
        _checked(where, lambda: without_password(str(parameters["state_url"])))
    return parameters


def _beside(folder: Path, text: str) -> str:
    """A local file, folder or glob named in prefect.yaml, relative to the file's folder (not
    to wherever `serve` was started); a URL as it is."""
    if is_url(text):
        return text
    named = Path(text).expanduser()
    return str(named if named.is_absolute() else folder / named)


def _checked(where: str, check: Callable[[], T], names: dict[str, str] | None = None) -> T:
    """A check of one deployment's values; its error names the deployment, and each setting
    by the parameter's name for it (`names`, where it is not the setting's own name)."""
    try:
        return check()
    except SettingError as error:
        raise SettingError(f"{where}: {error.worded(names)}") from None


def serve_deployments(path: Path) -> None:
    """Register the deployments with the Prefect API and run their flow runs here until
    stopped."""
    deployments = read_deployments(path)
    serve(*[deployment.runner() for deployment in deployments], print_starting_message=True)
