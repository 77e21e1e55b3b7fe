"""`contacts-etl`: the command line. User mistakes end as one line on stderr and exit code 2."""

from __future__ import annotations

import os
import sys
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Literal

import typer

if TYPE_CHECKING:
    import pandas as pd

    from contacts_etl.load import LoadProgress, LoadRequest
    from contacts_etl.run_report import LoadReport
    from sinks.settings import Five9Settings
from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from schemas.errors import ContactsEtlError, SettingError
from schemas.fields import DEFAULT_KEYS, DEFAULT_ZONE

# How the command line names each setting an error may be about.
OPTION_NAMES = {
    "keys": "--key",
    "delimiter": "--delimiter",
    "encoding": "--encoding",
    "timezone": "--timezone",
    "calling_hours": "--calling-hours",
    "as_of": "--as-of",
    "state_dir": "--state-dir",
    "state_url": "--state-url",
    "list": "--list",
    "limit": "--limit",
    "report": "--report",
    "rejects": "--rejects",
    "output": "--output",
    "html": "--html",
    "mapping": "--mapping",
    "port": "--port",
    "order": "--order",
}

app = typer.Typer(
    name="contacts-etl",
    help="Load contact records into Five9 dialing lists with guard times exact to the minute.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)

Sources = Annotated[
    list[str], typer.Argument(help="CSV or Parquet files, folders or glob patterns.")
]
MappingOption = Annotated[
    Path | None, typer.Option("--mapping", help="TOML file renaming source columns.")
]
TimezoneOption = Annotated[
    str,
    typer.Option(
        "--timezone",
        envvar="CONTACTS_TIMEZONE",
        help="IANA zone for times that carry no offset and rows without a timezone.",
    ),
]
CallingHoursOption = Annotated[
    str | None,
    typer.Option(
        "--calling-hours",
        envvar="CONTACTS_CALLING_HOURS",
        help="Narrow windows to these hours in each row's zone, e.g. 08:00-21:00.",
    ),
]
E164Option = Annotated[
    bool | None,
    typer.Option(
        "--e164/--no-e164",
        help="The Five9 domain is set to E.164 numbers (default: FIVE9_E164, as a load reads it).",
        show_default=False,
    ),
]
KeyOption = Annotated[
    list[str] | None,
    typer.Option("--key", help="Key field(s) Five9 matches records on (default number1)."),
]
DelimiterOption = Annotated[
    str | None, typer.Option("--delimiter", help="CSV delimiter (default: sniffed).")
]
EncodingOption = Annotated[
    str, typer.Option("--encoding", help="CSV encoding: utf-8 (default) or latin-1.")
]
StateDirOption = Annotated[
    Path | None,
    typer.Option(
        "--state-dir",
        envvar="CONTACTS_STATE_DIR",
        help="Where the run ledger and dead letters live (default: the user's data directory).",
    ),
]
StateUrlOption = Annotated[
    str | None,
    typer.Option(
        "--state-url",
        envvar="CONTACTS_STATE_URL",
        help="Where the run ledger and dead letters live, as a database URL: "
        "postgresql://user@host/db shares them (and the rate limit) across machines "
        "(default: the SQLite ledger in --state-dir).",
        show_envvar=True,
    ),
]
AsOfOption = Annotated[
    str | None,
    typer.Option("--as-of", help="Judge expiry at this UTC moment instead of now (ISO 8601)."),
]


@app.callback()
def cli() -> None:
    """Load contact records into Five9 dialing lists with guard times exact to the minute."""


def _moment(text: str | None) -> pd.Timestamp | None:
    from contacts_etl.inputs import parse_as_of

    return parse_as_of(text)


@app.command()
def preview(
    sources: Sources,
    mapping: MappingOption = None,
    timezone: TimezoneOption = DEFAULT_ZONE,
    output: Annotated[
        str | None,
        typer.Option(
            "--output", help="Write the contacts that would be sent (.csv/.parquet; path or URL)."
        ),
    ] = None,
    rejects: Annotated[
        str | None,
        typer.Option("--rejects", help="Write every row set aside, with its reason (path or URL)."),
    ] = None,
    html: Annotated[
        str | None,
        typer.Option(
            "--html",
            help="Write the analyst's report: one self-contained HTML file with charts "
            "(path or URL; needs contacts-etl[report]).",
        ),
    ] = None,
    limit: Annotated[int, typer.Option("--limit", help="How many rows to show.")] = 10,
    calling_hours: CallingHoursOption = None,
    e164: E164Option = None,
    key: KeyOption = None,
    delimiter: DelimiterOption = None,
    encoding: EncodingOption = "utf-8",
    as_of: AsOfOption = None,
) -> None:
    """Show what a load would send and set aside, without touching the network."""
    from contacts_etl.console import show_first_rows, show_preview
    from contacts_etl.preview import PreviewRequest, run_preview
    from sinks.settings import e164_domain

    request = PreviewRequest(
        sources=sources,
        mapping=mapping,
        timezone=timezone,
        calling_hours=calling_hours,
        e164=e164_domain() if e164 is None else e164,
        keys=tuple(key) if key else DEFAULT_KEYS,
        output=output,
        rejects=rejects,
        limit=limit,
        html=html,
        delimiter=delimiter,
        encoding=encoding,
        as_of=_moment(as_of),
    )
    console = Console()
    errors = Console(stderr=True)
    with Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        TextColumn("{task.completed:,} rows read"),
        TimeElapsedColumn(),
        console=errors,
        transient=True,
        disable=not errors.is_terminal,  # a log or a pipe gets the results, not a spinner
    ) as progress:
        task = progress.add_task("Reading and validating", total=None)
        shown: list[bool] = []

        def first_rows(rows: pd.DataFrame) -> None:
            show_first_rows(rows, limit, console)
            shown.append(not rows.empty)

        with _storage_credentials():
            result = run_preview(
                request,
                on_rows_read=lambda n: progress.advance(task, n),
                on_first_rows=first_rows,
            )
    show_preview(result, limit, console, first_rows_shown=any(shown))


@app.command()
def load(
    sources: Sources,
    list_name: Annotated[str, typer.Option("--list", help="The Five9 list to load into.")],
    mapping: MappingOption = None,
    timezone: TimezoneOption = DEFAULT_ZONE,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Do everything but the upload; show the plan.")
    ] = False,
    rejects: Annotated[
        str | None,
        typer.Option(
            "--rejects", help="Write every row not delivered, with its reason (path or URL)."
        ),
    ] = None,
    report: Annotated[
        str | None, typer.Option("--report", help="Write the run's JSON report (path or URL).")
    ] = None,
    state_dir: StateDirOption = None,
    state_url: StateUrlOption = None,
    restart: Annotated[
        bool,
        typer.Option("--restart", help="Ignore what earlier attempts of this run delivered."),
    ] = False,
    calling_hours: CallingHoursOption = None,
    key: KeyOption = None,
    delimiter: DelimiterOption = None,
    encoding: EncodingOption = "utf-8",
    as_of: AsOfOption = None,
    no_prefect: Annotated[
        bool,
        typer.Option(
            "--no-prefect",
            help="Run here without Prefect, even when a Prefect API is configured.",
        ),
    ] = False,
    order: Annotated[
        Literal["file", "deadline"],
        typer.Option(
            "--order",
            help="Send rows in file order as read, or by the end of their window, soonest "
            "first (deadline: the whole run is read before the first upload).",
        ),
    ] = "file",
) -> None:
    """Load the valid contacts of SOURCE... into a Five9 list (the local sandbox if no
    FIVE9_* credentials are set). Runs as the load-contacts flow when a Prefect API is
    configured (environment, .env or profile). Exit code 1 when some rows failed to load."""
    from contacts_etl.console import LoadDisplay
    from contacts_etl.load import LoadRequest, run_load

    settings = _five9_settings()
    request = LoadRequest(
        sources=sources,
        mapping=mapping,
        timezone=timezone,
        calling_hours=calling_hours,
        e164=settings.e164,
        keys=tuple(key) if key else DEFAULT_KEYS,
        rejects=rejects,
        delimiter=delimiter,
        encoding=encoding,
        as_of=_moment(as_of),
        list_name=list_name,
        dry_run=dry_run,
        report=report,
        state_dir=state_dir,
        state_url=state_url,
        restart=restart,
        order=order,
    )
    console = Console()
    with LoadDisplay(Console(stderr=True)) as display:
        if not no_prefect and _prefect_api_configured():
            # A Prefect server is configured: run as the load-contacts flow, so the run shows
            # in the UI and shares the credential's rate limit with every other run.
            result = _load_as_flow(request, display.progress)
        else:
            with _storage_credentials():
                result = run_load(request, settings, display.progress)
    display.show_report(result, console, request.rejects)
    if result.failed:
        raise typer.Exit(1)


def _five9_settings() -> Five9Settings:
    """Five9 settings from the environment, the secret from a Prefect Secret block when
    FIVE9_SECRET_BLOCK names one (as the flows read it)."""
    if os.environ.get("FIVE9_SECRET_BLOCK", "").strip():
        from flows.secrets import five9_settings

        return five9_settings()
    from sinks.settings import load_settings

    return load_settings()


def _storage_credentials() -> AbstractContextManager[None]:
    """Object storage credentials from the Secret block CONTACTS_STORAGE_BLOCK names, as the
    flows read them (when it names one)."""
    if not os.environ.get("CONTACTS_STORAGE_BLOCK", "").strip():
        return nullcontext()
    from flows.secrets import storage_credentials
    from sources.storage import storage_options

    return storage_options(storage_credentials())


def _prefect_api_configured() -> bool:
    """Whether Prefect has an API to talk to (environment, .env, prefect.toml or profile)."""
    from flows.prefect_api import api_configured

    return api_configured()


def _load_as_flow(request: LoadRequest, progress: LoadProgress) -> LoadReport:
    """Run the load as the load-contacts flow, followed on this display; its report."""
    from contacts_etl.load import followed_by
    from flows.load_contacts import load_contacts
    from flows.logs import quiet_prefect_console
    from flows.parameters import load_parameters

    reports: list[LoadReport] = []
    progress.reported = reports.append
    with followed_by(progress), quiet_prefect_console():
        state = load_contacts(**load_parameters(request), return_state=True)
    if not reports:
        # The flow's message names its parameters (keys, list_name), as the UI shows them.
        raise ContactsEtlError(state.message or "the load-contacts flow run failed")
    return reports[0]


@app.command()
def retry(
    list_name: Annotated[str, typer.Option("--list", help="The Five9 list to replay into.")],
    state_dir: StateDirOption = None,
    state_url: StateUrlOption = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Only count the dead letters; send nothing.")
    ] = False,
    key: KeyOption = None,
) -> None:
    """Send the list's dead letters again (rows Five9 rejected or a load gave up on); rows
    that land leave the store. Exit code 1 when some still failed."""
    from contacts_etl.console import counted
    from contacts_etl.retry import run_retry
    from contacts_etl.run_state import REPLAY_ATTEMPTS

    result = run_retry(
        list_name,
        _five9_settings(),
        state_dir,
        state_url=state_url,
        dry_run=dry_run,
        keys=tuple(key) if key else DEFAULT_KEYS,
    )
    console = Console()
    kinds = ", ".join(f"{n:,} {bucket}" for bucket, n in sorted(result.by_bucket.items()))
    console.print(
        f"Dead letters for list {list_name!r}: {result.dead_letters:,}"
        + (f" ({kinds})" if kinds else "")
    )
    if not dry_run and result.dead_letters:
        console.print(
            f"Replayed in {counted(result.requests, 'request')}: {result.delivered:,} delivered, "
            f"{result.rejected_by_five9:,} rejected by Five9 again, {result.failed:,} failed, "
            f"{result.expired:,} expired (removed)."
        )
    if result.set_aside:
        console.print(
            f"Left out {result.set_aside:,} letters whose replay failed {REPLAY_ATTEMPTS} times "
            f"in a row (last: {result.set_aside_error or 'the process ended'}); the next "
            "`contacts-etl retry` tries them again."
        )
    for reason, count in list(result.still_failing.items())[:3]:
        console.print(f"Still failing ({count:,}): {reason}")
    if result.calls_spent_until:
        console.print(
            "Five9's budget of SOAP import calls a day for this user is spent until "
            f"{result.calls_spent_until}: run `contacts-etl retry` again after that time."
        )
    if result.failed:
        raise typer.Exit(1)


@app.command("copy-state")
def copy_state(
    to: Annotated[
        str, typer.Option("--to", help="The shared store's URL, e.g. postgresql://user@host/db.")
    ],
    state_dir: StateDirOption = None,
) -> None:
    """Copy this machine's run ledger (the SQLite one in --state-dir) into a shared state
    store, so runs it knows resume from any machine that points at that store."""
    from sinks.ledger import RunLedger, default_state_dir
    from sinks.state_store import state_url

    folder = state_dir or default_state_dir()
    source = RunLedger(folder, state_url(None, folder))
    target = RunLedger(folder, to)
    try:
        copied = source.copy_into(target)
    finally:
        source.close()
        target.close()
    Console().print(
        "Copied into the shared store: "
        + ", ".join(f"{rows:,} {table.replace('_', ' ')}" for table, rows in copied.items())
    )


@app.command()
def serve(
    config: Annotated[
        Path, typer.Option("--config", help="The deployments, as `prefect deploy` reads them.")
    ] = Path("prefect.yaml"),
    check: Annotated[
        bool,
        typer.Option("--check", help="Only check the deployments and list them; serve nothing."),
    ] = False,
) -> None:
    """Register the deployments of prefect.yaml (nightly loads, the on-demand preview) with
    the configured Prefect API and run their flow runs here until Ctrl-C: the one-machine
    alternative to `prefect deploy` and a worker."""
    from flows.deployments import read_deployments, serve_deployments

    if not check:
        serve_deployments(config)
        return
    console = Console()
    for deployment in read_deployments(config):
        when = "; ".join(_schedule_text(s) for s in deployment.schedules) or "on demand"
        console.print(f"{deployment.full_name}: {when}", soft_wrap=True)
    console.print(f"{config}: the deployments are well formed")


def _schedule_text(schedule: object) -> str:
    """`0 2 * * * (America/New_York)` or `every 3600 s (UTC)`."""
    cron = getattr(schedule, "cron", None)
    interval = getattr(schedule, "interval", None)
    what = cron or f"every {interval.total_seconds() if interval else 0:g} s"
    return f"{what} ({getattr(schedule, 'timezone', None) or 'UTC'})"


@app.command()
def sandbox(
    port: Annotated[int, typer.Option("--port", help="Port on 127.0.0.1.")] = 8599,
    list_name: Annotated[
        list[str] | None, typer.Option("--list", help="A list that exists (repeatable).")
    ] = None,
    custom_field: Annotated[
        list[str] | None,
        typer.Option(
            "--custom-field",
            help="A custom field the domain has (repeatable; default account_id and segment).",
        ),
    ] = None,
) -> None:
    """Serve the local Five9 sandbox over HTTP until Ctrl-C (consumer key sandbox-key,
    secret sandbox-secret; SOAP user sandbox-admin, password sandbox-password)."""
    from five9_sandbox import SandboxSettings, serve_forever
    from five9_sandbox.settings import SAMPLE_CUSTOM_FIELDS

    settings = SandboxSettings(
        lists=tuple(list_name) if list_name else ("demo",),
        custom_fields=frozenset(custom_field) if custom_field else SAMPLE_CUSTOM_FIELDS,
    )
    try:
        serve_forever(settings, port=port)
    except OSError as error:
        raise SettingError(
            f"{port}: cannot serve there ({error.strerror})", setting="port"
        ) from None


def main() -> None:
    """Entry point: run the command; a user's mistake is one line on stderr and exit code 2
    (a bad option or argument too, with `--help` named for the rest). Any other error is one
    line and exit code 1, its traceback kept in the state folder's `failures/` (and printed
    first with `--debug`, anywhere on the line)."""
    from typer.exceptions import TyperException

    from contacts_etl.failure import UnexpectedError, unexpected

    arguments = sys.argv[1:]
    debug = "--debug" in arguments
    arguments = [a for a in arguments if a != "--debug"]
    try:
        code = app(args=arguments, standalone_mode=False)
    except UnexpectedError as error:
        if debug:
            print(error.trace, file=sys.stderr, end="")
        _fail(error.worded(OPTION_NAMES), error.exit_code)
    except ContactsEtlError as error:
        _fail(error.worded(OPTION_NAMES), error.exit_code)
    except TyperException as error:
        if type(error).__name__ == "NoArgsIsHelpError":
            print(error.format_message(), file=sys.stderr)  # no command at all: the help
        else:
            _fail(f"{error.format_message()} (see --help)", error.exit_code)
        sys.exit(error.exit_code)
    except typer.Abort:
        sys.exit(1)
    except KeyboardInterrupt:
        # The ledger holds every chunk Five9 accepted: the same command goes on from there.
        _fail("interrupted; run the same command again to go on where this one stopped", 130)
    except Exception as error:
        command = next((a for a in arguments if not a.startswith("-")), "contacts-etl")
        failure = unexpected(error, command, secrets=_secrets_in_environment())
        if debug:
            print(failure.trace, file=sys.stderr, end="")
        _fail(failure.worded(), failure.exit_code)
    if code == 130:
        _fail("interrupted; run the same command again to go on where this one stopped", 130)
    sys.exit(code if isinstance(code, int) else 0)


def _secrets_in_environment() -> list[str]:
    """The secrets the environment holds (hidden from an unexpected error's line and trace)."""
    names = ("FIVE9_SECRET_KEY", "FIVE9_PASSWORD", "PGPASSWORD", "AWS_SECRET_ACCESS_KEY")
    return [os.environ[name] for name in names if os.environ.get(name)]


def _fail(message: str, exit_code: int) -> None:
    print(f"contacts-etl: error: {' '.join(message.split())}", file=sys.stderr)
    sys.exit(exit_code)
