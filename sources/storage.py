"""Where files are read and written: a local path, or a URL of object storage (`s3://`,
`gs://`, `az://`, `https://`, any filesystem fsspec knows), with globs and folders for both.

Objects are read as streams: CSV in blocks from the start, Parquet by the byte ranges of its
row groups; nothing is downloaded whole into memory. Credentials are each filesystem's own
(environment, profiles): none is ever named in a message. A URL scheme whose filesystem is not
installed is one line saying which extra to install (`contacts-etl[s3]` for S3).
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path, PurePosixPath
from typing import IO, Any

import fsspec

from schemas.errors import ContactsEtlError, SettingError, SourceError

# The package that brings each scheme's filesystem (fsspec names it in its own error).
EXTRAS = {"s3": "contacts-etl[s3] (s3fs)", "gs": "gcsfs", "gcs": "gcsfs", "az": "adlfs",
          "abfs": "adlfs", "abfss": "adlfs", "http": "aiohttp", "https": "aiohttp"}  # fmt: skip
GLOB_CHARS = frozenset("*?[")
# What a streamed read (CSV) fetches beyond what was asked: a few MiB, not the store's default
# (s3fs reads ahead 50 MiB).
READ_AHEAD_BYTES = 4 << 20


class StoreError(OSError):
    """An object store's own error (no credentials, an unknown endpoint...) as an OSError, so
    it is worded as any unreadable or unwritable file is."""


@contextmanager
def store_errors() -> Iterator[None]:
    """Inside: a filesystem's error that is not an OSError (botocore's NoCredentialsError,
    ...) becomes a StoreError naming its kind and reason."""
    try:
        yield
    except (OSError, ContactsEtlError):
        raise
    except Exception as error:  # a store library's own error: any kind, one line
        raise StoreError(f"{type(error).__name__}: {_reason(error)}") from None


def is_url(location: str | os.PathLike[str]) -> bool:
    """Whether `location` names object storage (or another fsspec filesystem)."""
    return "://" in os.fspath(location)


class Location:
    """A file, local or in object storage."""

    def __init__(self, location: str | os.PathLike[str]) -> None:
        text = os.fspath(location)
        self.url = is_url(text)
        self.text = text if self.url else os.path.expanduser(text)

    def __str__(self) -> str:
        return self.text

    def __repr__(self) -> str:
        return f"Location({self.text!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Location) and self.key() == other.key()

    def __hash__(self) -> int:
        return hash(self.key())

    def key(self) -> str:
        """The same file named two ways is one key (a local path is resolved)."""
        return self.text if self.url else str(Path(self.text).resolve())

    @property
    def name(self) -> str:
        return PurePosixPath(self.text.split("://", 1)[-1]).name

    @property
    def suffix(self) -> str:
        return PurePosixPath(self.name).suffix

    def local(self) -> Path:
        """The local path (only for a location that is not a URL)."""
        assert not self.url, self.text
        return Path(self.text)

    def open(self, mode: str = "rb", *, ranges: bool = False) -> IO[Any]:
        """The file opened (a URL through its filesystem); OSError as the filesystem says.
        `ranges`: reads jump about (Parquet): each read fetches just its bytes, with no read
        ahead; otherwise (CSV) the object streams in blocks."""
        if not self.url:
            handle: IO[Any] = self.local().open(mode)
            return handle
        options: dict[str, Any] = {}
        if "r" in mode:  # writes go in the store's own part size (S3: at least 5 MiB)
            options = (
                {"cache_type": "none"}
                if ranges
                else {"cache_type": "readahead", "block_size": READ_AHEAD_BYTES}
            )
        with store_errors():
            fs, path = filesystem(self.text)
            opened: IO[Any] = fs.open(path, mode, **options)
        return opened

    def size(self) -> int:
        if not self.url:
            return self.local().stat().st_size
        with store_errors():
            fs, path = filesystem(self.text)
            return int(fs.size(path) or 0)

    def fingerprint(self) -> str:
        """What identifies the file's content: its SHA-256 (local), or the object's version or
        ETag and size as the store keeps them (read without reading the object), else the
        SHA-256 of a streamed read."""
        if self.url:
            with store_errors():
                fs, path = filesystem(self.text)
                info = fs.info(path)
            for field in ("VersionId", "version_id", "generation", "ETag", "etag", "md5Hash"):
                if info.get(field):
                    return f"{field}:{info[field]}:{info.get('size')}"
        digest = hashlib.sha256()
        with self.open("rb") as handle:
            while block := handle.read(1 << 20):
                digest.update(block)
        return digest.hexdigest()

    def remove(self) -> None:
        """Delete the file (nothing when it is not there)."""
        if not self.url:
            self.local().unlink(missing_ok=True)
            return
        with store_errors():
            fs, path = filesystem(self.text)
            if fs.exists(path):
                fs.rm(path)

    def make_parent(self) -> None:
        """The folder a local file is written to (object storage needs none)."""
        if not self.url:
            self.local().parent.mkdir(parents=True, exist_ok=True)


# Options per URL scheme given by the layer above (credentials from a Prefect block).
_OPTIONS: dict[str, dict[str, Any]] = {}


@contextmanager
def storage_options(options: Mapping[str, Mapping[str, Any]]) -> Iterator[None]:
    """While inside, each scheme's URLs open with these fsspec options (e.g. {"s3": {"key":
    ..., "secret": ...}}) on top of what the filesystem reads itself."""
    saved = dict(_OPTIONS)
    _OPTIONS.update({scheme.lower(): dict(given) for scheme, given in options.items()})
    try:
        yield
    finally:
        _OPTIONS.clear()
        _OPTIONS.update(saved)


def filesystem(url: str) -> tuple[Any, str]:
    """The fsspec filesystem of a URL, and the path within it."""
    scheme = url.split("://", 1)[0].lower()
    try:
        fs, path = fsspec.core.url_to_fs(url, **_OPTIONS.get(scheme, {}))
    except ImportError:
        extra = EXTRAS.get(scheme, f"the fsspec filesystem for {scheme}://")
        raise SettingError(f"{url}: {scheme}:// needs {extra}; install it") from None
    except ValueError as error:
        raise SettingError(f"{url}: {error}") from None
    return fs, path


def expand(spec: str | os.PathLike[str], suffixes: tuple[str, ...]) -> list[Location]:
    """The files one argument names: the file itself, a folder's files with `suffixes`
    (sorted, not recursive), or a glob pattern's matches (sorted); SourceError when it names
    none."""
    text = os.fspath(spec)
    if not is_url(text):
        return [Location(path) for path in _local_files(os.path.expanduser(text), suffixes)]
    fs, path = filesystem(text)
    protocol = text.split("://", 1)[0]
    try:
        with store_errors():
            found = _found(fs, path, text, suffixes)
    except OSError as error:
        raise SourceError(f"{text}: cannot be read ({_reason(error)})") from None
    return [Location(f"{protocol}://{p.split('://', 1)[-1]}") for p in found]


def _found(fs: Any, path: str, text: str, suffixes: tuple[str, ...]) -> list[str]:
    """The objects a URL names (its path `path` in the filesystem `fs`)."""
    if GLOB_CHARS.intersection(path):
        found = [p for p in sorted(fs.glob(path)) if not fs.isdir(p)]
        if not found:
            raise SourceError(f"{text}: no files match this pattern")
        return found
    if fs.isdir(path):
        found = sorted(p for p in fs.ls(path, detail=False) if p.lower().endswith(suffixes))
        if not found:
            raise SourceError(f"{text}: the folder holds no {', '.join(suffixes)} files")
        return found
    if fs.exists(path):
        return [path]
    raise SourceError(f"{text}: no such file or folder")


def _local_files(text: str, suffixes: tuple[str, ...]) -> list[Path]:
    import glob

    path = Path(text)
    if path.is_dir():
        found = sorted(
            (entry for entry in path.iterdir() if entry.suffix.lower() in suffixes),
            key=lambda entry: entry.name,
        )
        files = [entry for entry in found if entry.is_file()]
        if not files:
            raise SourceError(f"{text}: the directory holds no .csv, .parquet or .pq files")
        return files
    if path.exists() or not GLOB_CHARS.intersection(text):
        if not path.exists():
            raise SourceError(f"{text}: no such file or directory")
        return [path]
    matches = [Path(match) for match in sorted(glob.glob(text)) if not Path(match).is_dir()]
    if not matches:
        raise SourceError(f"{text}: no files match this pattern")
    return matches


@contextmanager
def written(location: Location, mode: str = "wb") -> Iterator[IO[Any]]:
    """The file opened for writing; an error of the filesystem is the caller's to word."""
    location.make_parent()
    handle = location.open(mode)
    try:
        yield handle
    finally:
        with store_errors():  # an object store takes the object as it is closed
            handle.close()


def _reason(error: BaseException) -> str:
    text = getattr(error, "strerror", None) or str(error) or type(error).__name__
    return " ".join(str(text).split())[:200]


def storage_error(location: Location, error: BaseException) -> ContactsEtlError:
    """A filesystem's error about a location as one line (the reason cut short)."""
    return SourceError(f"{location}: cannot be read ({_reason(error)})")
