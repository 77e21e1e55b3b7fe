"""Sources in object storage, against a real S3-compatible server on loopback: globs and
folders of URLs, CSV streamed in ranged reads, Parquet read by the ranges of its row groups,
the run identity from the object's ETag, and the same rows as the same files on disk."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import fsspec
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from schemas.errors import SourceError
from sources import open_sources
from sources.options import ReadOptions
from sources.storage import Location
from tests.conftest import SAMPLES


def upload(bucket: str, local: Path, key: str) -> str:
    url = f"{bucket}/{key}"
    fs = fsspec.filesystem("s3")
    fs.put_file(str(local), url.removeprefix("s3://"))
    fs.invalidate_cache()
    return url


def frames(specs: list[str]) -> pd.DataFrame:
    """Every batch of the sources the specs name, without the file name (local or URL)."""
    parts = [batch.frame for source in open_sources(specs) for batch in source.batches()]
    return pd.concat(parts, ignore_index=True).drop(columns=["source_file"])


def test_a_glob_of_urls_reads_what_the_same_files_read_on_disk(s3_bucket: str) -> None:
    upload(s3_bucket, SAMPLES / "contacts.csv", "exports/a.csv")
    upload(s3_bucket, SAMPLES / "contacts.parquet", "exports/b.parquet")
    upload(s3_bucket, SAMPLES / "contacts.csv", "elsewhere/c.csv")
    found = open_sources([f"{s3_bucket}/exports/*"])
    assert [str(source.location) for source in found] == [
        f"{s3_bucket}/exports/a.csv",
        f"{s3_bucket}/exports/b.parquet",
    ]
    pd.testing.assert_frame_equal(
        frames([f"{s3_bucket}/exports/*"]),
        frames([str(SAMPLES / "contacts.csv"), str(SAMPLES / "contacts.parquet")]),
    )
    [batch] = list(found[0].batches())
    assert set(batch.frame["source_file"]) == {f"{s3_bucket}/exports/a.csv"}


def test_a_folder_url_reads_its_data_files(s3_bucket: str) -> None:
    upload(s3_bucket, SAMPLES / "contacts.csv", "drop/a.csv")
    upload(s3_bucket, SAMPLES / "contacts.csv", "drop/notes.md")
    assert [source.location.name for source in open_sources([f"{s3_bucket}/drop"])] == ["a.csv"]


@pytest.mark.parametrize(
    ("spec", "named"),
    [
        ("/missing.csv", "no such file or folder"),
        ("/exports/*.csv", "no files match this pattern"),
    ],
)
def test_a_url_that_names_nothing_is_one_line(s3_bucket: str, spec: str, named: str) -> None:
    with pytest.raises(SourceError, match=named) as refused:
        open_sources([f"{s3_bucket}{spec}"])
    assert str(refused.value).startswith(s3_bucket)


def test_a_big_csv_is_read_as_a_stream_of_ranges(s3_bucket: str, tmp_path: Path) -> None:
    rows = 200_000  # about 9 MB: read 1 MiB at a time here, with 4 MiB read ahead
    local = tmp_path / "big.csv"
    local.write_text(
        "number1,guard_start,guard_end\n"
        + "".join(f"{2_000_000_000 + i},2030-01-02 09:00,2030-01-02 17:00\n" for i in range(rows)),
        encoding="utf-8",
    )
    url = upload(s3_bucket, local, "big.csv")
    [source] = open_sources([url], ReadOptions(block_bytes=1 << 20))
    reads = _ranges_read_during(lambda: sum(len(batch.frame) for batch in source.batches()))
    total = sum(len(batch.frame) for batch in source.batches())
    assert total == rows
    size = local.stat().st_size
    assert len(reads) >= 2, reads  # ranged reads, none of the whole object
    assert all(end - start <= 5 << 20 < size for start, end in reads), reads
    assert [start for start, _ in reads] == sorted(start for start, _ in reads)  # one pass
    assert max(end for _, end in reads) >= size - 1


def test_parquet_row_groups_are_read_by_their_ranges(s3_bucket: str, tmp_path: Path) -> None:
    local = tmp_path / "groups.parquet"
    count = 4_000
    table = pa.table(
        {
            "number1": [str(2_000_000_000 + i) for i in range(count)],
            "guard_start": ["2030-01-02 09:00"] * count,
            "guard_end": ["2030-01-02 17:00"] * count,
            "notes": [
                f"{i:0500d}" for i in range(count)
            ],  # a wide column the key census does not read
        }
    )
    pq.write_table(table, local, row_group_size=1_000, compression="none", use_dictionary=False)
    url = upload(s3_bucket, local, "groups.parquet")
    [source] = open_sources([url])
    census = sum(len(batch.frame) for batch in source.batches(["number1"]))
    assert census == count
    fs = fsspec.filesystem("s3")
    with fs.open(url, "rb") as handle:
        parquet = pq.ParquetFile(handle)
        assert parquet.metadata.num_row_groups == 4
    # The file is far larger than what the census needs: the reader must not have read it all.
    reads = _ranges_read_during(lambda: sum(len(b.frame) for b in source.batches(["number1"])))
    read = sum(end - start for start, end in reads)
    assert 0 < read < local.stat().st_size / 4, (read, local.stat().st_size)


def _ranges_read_during(action: Callable[[], object]) -> list[tuple[int, int]]:
    """The byte ranges fetched from the store while `action` runs (every object opened)."""
    fs = fsspec.filesystem("s3")
    original = fs.open
    reads: list[tuple[int, int]] = []

    def spying(path: str, mode: str = "rb", **kwargs: object) -> object:
        handle = original(path, mode, **kwargs)
        fetch = handle.cache.fetcher  # every read of the handle goes through its cache

        def fetched(start: int, end: int) -> bytes:
            reads.append((start, end))
            data: bytes = fetch(start, end)
            return data

        handle.cache.fetcher = fetched
        return handle

    fs.open = spying
    try:
        action()
    finally:
        del fs.open
    return reads


def test_an_objects_fingerprint_is_its_etag_and_changes_with_it(s3_bucket: str) -> None:
    url = upload(s3_bucket, SAMPLES / "contacts.csv", "a.csv")
    first = Location(url).fingerprint()
    assert first.startswith("ETag:")
    assert Location(url).fingerprint() == first  # read without reading the object
    upload(s3_bucket, SAMPLES / "contacts.parquet", "a.csv")
    assert Location(url).fingerprint() != first


def test_a_store_without_credentials_is_one_line(
    s3_bucket: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from s3fs import S3FileSystem

    url = upload(s3_bucket, SAMPLES / "contacts.csv", "a.csv")
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")  # no instance role to fall back on
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    S3FileSystem.clear_instance_cache()
    try:
        with pytest.raises(SourceError) as refused:
            open_sources([url])
    finally:
        S3FileSystem.clear_instance_cache()  # the next test's filesystem has its credentials
    assert str(refused.value) == (
        f"{url}: cannot be read (NoCredentialsError: Unable to locate credentials)"
    )


def test_a_store_whose_filesystem_is_not_installed_names_what_to_install() -> None:
    from schemas.errors import SettingError

    with pytest.raises(SettingError) as refused:
        open_sources(["gs://exports/contacts.csv"])  # gcsfs is no dependency of the project
    assert str(refused.value) == "gs://exports/contacts.csv: gs:// needs gcsfs; install it"
