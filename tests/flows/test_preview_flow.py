"""The preview-contacts flow on a Prefect server: its result and the artifacts analysts read."""

from __future__ import annotations

import json
import os
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import SAMPLES
from tests.flows.flow_helpers import artifact_of
from tests.prefect_server import PrefectServer

EXPECTED = json.loads((SAMPLES / "expected.json").read_text())
AS_OF = datetime.fromisoformat(EXPECTED["as_of"])


def endpoint() -> str:
    """The S3-compatible server's address, as the s3_bucket fixture set it."""
    return os.environ["AWS_ENDPOINT_URL"]


def test_preview_flow_posts_summary_and_rejects(prefect_api: PrefectServer, tmp_path: Path) -> None:
    from flows.preview_contacts import preview_contacts

    report = tmp_path / "report.html"
    state = preview_contacts(
        [str(SAMPLES / "contacts.csv")], limit=5, report=str(report), return_state=True
    )
    counts = state.result()
    assert isinstance(counts, dict), counts
    set_aside = counts["invalid"] + counts["expired"] + counts["duplicate"]
    assert counts["rows_read"] == EXPECTED["rows"]
    assert counts["rows_read"] == counts["valid"] + set_aside
    assert counts["invalid"] == EXPECTED["buckets"]["invalid"]

    summary = str(artifact_of(state, "preview-summary"))
    assert f"| rows read | {EXPECTED['rows']} |" in summary
    assert f"| invalid | {EXPECTED['buckets']['invalid']} |" in summary
    # The first row of the sample, in UTC and in its own zone.
    assert "2028-02-14T15:30:00Z" in summary
    assert "2028-02-14 10:30 EST" in summary

    # The report's aggregates, and a link to the report itself.
    reasons = str(artifact_of(state, "preview-reasons"))
    assert (
        "| timezone '…' is not an IANA region name such as America/New_York | timezone | 1 |"
        in (reasons)
    )
    assert "line 63: timezone 'EST'" in reasons
    files = str(artifact_of(state, "preview-files"))
    valid = EXPECTED["buckets"]["valid"]
    assert f"| all files | {EXPECTED['rows']} | {valid} | {EXPECTED['buckets']['invalid']} |" in (
        files
    )
    zones = str(artifact_of(state, "preview-zones"))
    assert "| America/New_York |" in zones
    assert artifact_of(state, "preview-report") == f"[The preview's HTML report]({report.as_uri()})"
    assert f'data-bucket="valid">{valid}<' in report.read_text(encoding="utf-8")

    rows = artifact_of(state, "preview-rejects")
    table = json.loads(rows) if isinstance(rows, str) else rows
    assert len(table) == set_aside
    assert {row["bucket"] for row in table} >= {"invalid", "duplicate"}
    assert all(row["reason"] for row in table)


def test_preview_flow_reads_a_given_delimiter_and_dedupes_on_the_given_keys(
    prefect_api: PrefectServer, tmp_path: Path
) -> None:
    from flows.preview_contacts import preview_contacts

    source = tmp_path / "tilde.csv"
    source.write_text(
        "number1~first_name~guard_start~guard_end\n"
        "2125550101~Ann~2030-01-02 09:00~2030-01-02 17:00\n"
        "2125550101~Bo~2030-01-02 09:00~2030-01-02 17:00\n"
        "2125550102~Ann~2030-01-02 09:00~2030-01-02 17:00\n",
        encoding="latin-1",
    )
    by_number = preview_contacts([str(source)], delimiter="~", encoding="latin-1")
    by_both = preview_contacts([str(source)], delimiter="~", keys=["number1", "first_name"])
    assert isinstance(by_number, dict)
    assert isinstance(by_both, dict)
    assert (by_number["valid"], by_number["duplicate"]) == (2, 1)
    assert (by_both["valid"], by_both["duplicate"]) == (3, 0)


@pytest.mark.parametrize(
    ("arguments", "named"),
    [
        ({"sources": ["/no/such/file.csv"]}, "/no/such/file.csv"),
        ({"sources": [str(SAMPLES / "contacts.csv")], "timezone": "Mars/Base"}, "Mars/Base"),
        ({"sources": [str(SAMPLES / "contacts.csv")], "as_of": "2030-01-02T09:00"}, "as_of"),
        ({"sources": []}, "no sources"),
        ({"sources": [str(SAMPLES / "contacts.csv")], "delimiter": "ab"}, "delimiter"),
        ({"sources": [str(SAMPLES / "contacts.csv")], "keys": ["guard_end"]}, "guard_end"),
    ],
)
def test_a_mistake_fails_the_preview_run_with_its_one_line(
    prefect_api: PrefectServer, arguments: dict[str, Any], named: str
) -> None:
    from flows.preview_contacts import preview_contacts

    state = preview_contacts(**arguments, return_state=True)
    assert state.is_failed()
    assert state.message is not None
    assert named in state.message
    assert "\n" not in state.message
    assert "Traceback" not in state.message


def test_object_storage_credentials_come_from_a_secret_block(
    prefect_api: PrefectServer, s3_bucket: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import fsspec
    from prefect.blocks.system import Secret
    from s3fs import S3FileSystem

    from flows.preview_contacts import preview_contacts

    fsspec.filesystem("s3").put_file(str(SAMPLES / "contacts.csv"), f"{s3_bucket}/in/c.csv")
    options = {"key": "block-key", "secret": "bl0ck-s3cret", "endpoint_url": endpoint()}
    block: Secret[Any] = Secret(value={"s3": options})  # type: ignore[arg-type]  # JSON
    block.save("contacts-storage", overwrite=True)
    for name in ("AWS_ENDPOINT_URL", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.delenv(name)  # only the block knows where the store is
    S3FileSystem.clear_instance_cache()
    monkeypatch.setenv("CONTACTS_STORAGE_BLOCK", "contacts-storage")
    state = preview_contacts([f"{s3_bucket}/in/*.csv"], as_of=AS_OF, return_state=True)
    counts = state.result()
    assert isinstance(counts, dict), state.message
    assert (counts["rows_read"], counts["valid"]) == (
        EXPECTED["rows"],
        EXPECTED["buckets"]["valid"],
    )
    assert "bl0ck-s3cret" not in str(artifact_of(state, "preview-summary"))

    monkeypatch.setenv("CONTACTS_STORAGE_BLOCK", "no-such-block")
    refused = preview_contacts([f"{s3_bucket}/in/*.csv"], return_state=True)
    assert refused.is_failed()
    assert refused.message == "CONTACTS_STORAGE_BLOCK 'no-such-block': no such Secret block"
