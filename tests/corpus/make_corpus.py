"""Write the bad-input corpus deterministically: `python -m tests.corpus.make_corpus`.

Every file is built from fixed bytes (no randomness, no clock), so running this again writes
the same bytes; test_bad_inputs.py checks that the committed files match. The two files that
would make the folder large (a 10 MB single line, a 50,000-column header) are not committed:
the test builds them into a temporary folder with `write_big`.
"""

from __future__ import annotations

import hashlib
import json
import sys
from collections.abc import Callable
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

HERE = Path(__file__).resolve().parent
FILES = HERE / "files"

HEADER = "number1,first_name,guard_start,guard_end,timezone,notes"
START = "2027-12-01 09:00"
END = "2027-12-01 17:00"
# 2027-12-01 14:00Z and 22:00Z as epoch milliseconds.
START_MS = 1827669600000
END_MS = 1827698400000


def phone(n: int) -> str:
    """A distinct 10-digit North American number for each n < 10,000."""
    return f"555{1_200_000 + n:07d}"


def row(n: int, name: str = "Ann", notes: str = "") -> str:
    return f"{phone(n)},{name},{START},{END},,{notes}"


def lines(*records: str, end: str = "\n") -> bytes:
    return "".join(record + end for record in records).encode("utf-8")


def _csv_files() -> dict[str, bytes]:
    files: dict[str, bytes] = {}
    ok = [row(n, f"Name{n}") for n in range(1, 4)]

    # --- encodings ---
    files["latin1_without_setting.csv"] = (
        lines(HEADER, row(1, "Ann"))
        + f"{phone(2)},José,{START},{END},,Müller\n".encode("latin-1")
        + lines(row(3, "Cy"))
    )
    files["utf16_with_bom.csv"] = (HEADER + "\n" + "\n".join(ok) + "\n").encode("utf-16")
    files["invalid_utf8_mid_file.csv"] = (
        lines(HEADER, *ok)
        + f"{phone(4)},Bad".encode()
        + b"\xc3\x28\xa0\xff"
        + f",{START},{END},,\n".encode()
        + lines(row(5, "Eve"), row(6, "Fay"))
    )
    files["mixed_encodings.csv"] = (
        lines(HEADER, row(1, "Plain"))
        + f"{phone(2)},Zoë,{START},{END},,utf-8\n".encode()
        + f"{phone(3)},Zoë,{START},{END},,latin-1\n".encode("latin-1")
        + f"{phone(4)},\u201cZo\u201d,{START},{END},,cp1252\n".encode("cp1252")
        + f"{phone(5)},Zoë,{START},{END},,utf-16\n".encode("utf-16-le")
        + b"\xef\xbb\xbf"
        + lines(row(6, "BomMidFile"))
    )
    files["cp1252_smart_quotes.csv"] = (
        HEADER + "\n"
        f"{phone(1)},\u201cAnn\u201d,{START},{END},,it\u2019s \u2013 fine\n"
        f"{phone(2)},Bo,{START},{END},,plain\n"
        f"{phone(3)},O\u2019Neil,{START},{END},,\u20ac5\n"
    ).encode("cp1252")
    files["bom_then_nothing.csv"] = b"\xef\xbb\xbf"

    # --- shape ---
    files["too_few_fields.csv"] = lines(
        HEADER, row(1), f"{phone(2)},Bo,{START}", f"{phone(3)}", row(4)
    )
    files["too_many_fields.csv"] = lines(
        HEADER, row(1), row(2) + ",extra", row(3) + ",x,y,z,,,", row(4)
    )
    files["unclosed_quote_mid_file.csv"] = lines(
        HEADER, row(1), row(2), f'{phone(3)},"Cy,{START},{END},,', row(4), row(5)
    )
    files["stray_quote_in_unquoted_field.csv"] = lines(
        HEADER,
        row(1),
        f'{phone(2)},Bo "the" Builder,{START},{END},,',
        f'{phone(3)},Cy",{START},{END},,',
        row(4),
    )
    # The quote before "Bo" was meant as text: by CSV's grammar it opens a field that swallows
    # the next line and closes at "Rock"", where text follows it.
    files["quote_swallows_lines.csv"] = lines(
        HEADER,
        row(1),
        f'{phone(2)},"Bo the Rock,{START},{END},,',
        row(3),
        f'{phone(4)},Rock" Johnson,{START},{END},,',
        row(5),
    )
    files["header_only.csv"] = lines(HEADER)
    files["empty.csv"] = b""
    files["only_blank_lines.csv"] = b"\n\n   \n\r\n\n"
    files["duplicate_header_names.csv"] = lines(
        "number1,guard_start,guard_end,notes,notes", f"{phone(1)},{START},{END},a,b"
    )
    files["blank_header_name.csv"] = lines(
        "number1,,guard_start,guard_end", f"{phone(1)},x,{START},{END}"
    )
    files["cr_only_line_ends.csv"] = lines(HEADER, *ok, end="\r")
    files["missing_required_columns.csv"] = lines(
        "phone,first_name,notes", "5551200001,Ann,", "5551200002,Bo,"
    )
    files["mixed_delimiters.csv"] = lines(
        HEADER,
        row(1),
        f"{phone(2)};Bo;{START};{END};;",
        f"{phone(3)}\tCy\t{START}\t{END}\t\t",
        f"{phone(4)}|Di|{START}|{END}||",
        row(5),
    )
    files["json_in_csv.csv"] = (
        json.dumps(
            [{"number1": phone(n), "guard_start": START, "guard_end": END} for n in range(1, 4)],
            indent=2,
        )
        + "\n"
    ).encode()

    # --- values ---
    files["nul_bytes_in_fields.csv"] = (
        lines(HEADER, row(1))
        + f"{phone(2)},A\x00nn,{START},{END},,\n".encode()
        + f"{phone(3)},Bo,{START},{END},,\x00\x00\n".encode()
        + f"{phone(4)}\x00,Cy,{START},{END},,\n".encode()
        + f'{phone(5)},"Di\x00",{START},{END},,\n'.encode()
        + lines(row(6))
    )
    files["spreadsheet_formulas.csv"] = lines(
        HEADER,
        f"=cmd|' /C calc'!A0,Ann,{START},{END},,",
        f"{phone(2)},+1+1,tomorrow,{END},,",
        f"{phone(3)},-2,{START},{END},Mars/Base,@SUM(A1:A9)",
        f"{phone(4)},\"@SUM(1+1)*cmd|' /C calc'!A0\",{START},never,,-2",
        f"+1+1,Eve,{START},{END},,",
        f"-2,Fay,{START},{END},,=1+1",
        f"@SUM(A1),Gus,{START},{END},,",
        f"{phone(8)},Hal,=NOW(),{END},,",
    )
    long_value = "x" * 300_000
    files["very_long_field_values.csv"] = lines(
        HEADER,
        row(1, notes=long_value),
        f'{phone(2)},"{"y" * 200_000}",{START},{END},,',
        f"{phone(3)}{'9' * 150_000},Cy,{START},{END},,",
        row(4),
    )
    files["every_row_invalid.csv"] = lines(
        HEADER,
        f",Ann,{START},{END},,",  # blank key
        f"123,Bo,{START},{END},,",  # not a phone number
        f"{phone(3)},Cy,tomorrow,{END},,",
        f"{phone(4)},Di,{START},25:00,,",
        f"{phone(5)},Eve,2026-02-30 09:00,{END},,",
        f"{phone(6)},Fay,{END},{START},,",  # end before start
        f"{phone(7)},Gus,{START},{END},EST,",
        f"{phone(8)},Hal,,,,",
    )
    files["duplicate_keys_5000.csv"] = lines(
        HEADER,
        *(f"{phone(1)},Dup{n},{START},{END},," for n in range(4_000)),
        *(f"(555) 120-{n % 1000:04d},Fmt{n},{START},{END},," for n in range(1_000)),
        *(f"+1 555 120 {n:04d},Last{n},{START},{END},," for n in range(1_000)),
    )

    # --- a folder with a good and a bad file; the bad one cannot be opened ---
    files["folder_good_and_bad/a_good.csv"] = lines(HEADER, *ok)
    files["folder_good_and_bad/b_bad.csv"] = lines(
        "number1,guard_start,guard_end,number1", "1,2,3,4"
    )
    return files


def _parquet(table: pa.Table) -> bytes:
    sink = pa.BufferOutputStream()
    pq.write_table(table, sink, compression="none")
    return bytes(sink.getvalue().to_pybytes())


def _parquet_files() -> dict[str, bytes]:
    three = [phone(n) for n in range(1, 4)]
    starts = [START] * 3
    ends = [END] * 3
    files: dict[str, bytes] = {}
    files["parquet_int_phone_numbers.parquet"] = _parquet(
        pa.table(
            {
                "number1": pa.array([int(p) for p in three] + [12], pa.int64()),
                "guard_start": [*starts, START],
                "guard_end": [*ends, END],
            }
        )
    )
    files["parquet_float_phones_with_nan.parquet"] = _parquet(
        pa.table(
            {
                "number1": pa.array(
                    [float(three[0]), float("nan"), None, 5551200004.5, float("inf")],
                    pa.float64(),
                ),
                "number2": pa.array([float(three[1])] * 5, pa.float32()),
                "guard_start": [START] * 5,
                "guard_end": [END] * 5,
            }
        )
    )
    files["parquet_bool_columns.parquet"] = _parquet(
        pa.table(
            {
                "number1": three,
                "number2": pa.array([True, False, None], pa.bool_()),
                "do_not_call": pa.array([False, True, None], pa.bool_()),
                "guard_start": starts,
                "guard_end": ends,
            }
        )
    )
    files["parquet_list_and_struct.parquet"] = _parquet(
        pa.table(
            {
                "number1": three,
                "tags": pa.array([["a", "b"], [], None], pa.list_(pa.string())),
                "address": pa.array(
                    [{"street": "1 Main", "zip": 12345}, None, {"street": None, "zip": 0}],
                    pa.struct([("street", pa.string()), ("zip", pa.int32())]),
                ),
                "guard_start": starts,
                "guard_end": ends,
            }
        )
    )
    files["parquet_list_as_guard_time.parquet"] = _parquet(
        pa.table(
            {
                "number1": three,
                "guard_start": pa.array([[START], [], None], pa.list_(pa.string())),
                "guard_end": ends,
            }
        )
    )
    files["parquet_timestamps_with_tz.parquet"] = _parquet(
        pa.table(
            {
                "number1": three,
                "guard_start": pa.array(
                    [START_MS, START_MS + 30_500, None], pa.timestamp("ms", tz="UTC")
                ),
                "guard_end": pa.array(
                    [END_MS * 1000] * 3, pa.timestamp("us", tz="America/Chicago")
                ),
            }
        )
    )
    files["parquet_timestamps_naive.parquet"] = _parquet(
        pa.table(
            {
                "number1": three,
                "guard_start": pa.array([START_MS, START_MS, END_MS], pa.timestamp("ms")),
                "guard_end": pa.array(
                    [END_MS * 10**6, END_MS * 10**6, START_MS * 10**6], pa.timestamp("ns")
                ),
                "timezone": ["America/Chicago", None, None],
            }
        )
    )
    # Microseconds reach 9999-12-31 (an "open-ended" placeholder) and 1600: nanoseconds do not.
    files["parquet_timestamps_past_nanoseconds.parquet"] = _parquet(
        pa.table(
            {
                "number1": three,
                "guard_start": pa.array([START_MS * 1000] * 3, pa.timestamp("us")),
                "guard_end": pa.array(
                    [END_MS * 1000, 253_402_214_400_000_000, -11_676_096_000_000_000],
                    pa.timestamp("us"),
                ),
            }
        )
    )
    files["parquet_guard_epoch_ms_integers.parquet"] = _parquet(
        pa.table(
            {
                "number1": [*three, phone(4)],
                "guard_start": pa.array([START_MS, START_MS, START_MS // 1000, 7], pa.int64()),
                "guard_end": pa.array([END_MS, END_MS - 1, END_MS // 1000, 8], pa.int64()),
            }
        )
    )
    # A sound footer over a page whose header is zeroed: pyarrow's message runs over lines.
    sound = _parquet(pa.table({"number1": three, "guard_start": starts, "guard_end": ends}))
    files["parquet_corrupt_page.parquet"] = sound[:50] + bytes(40) + sound[90:]
    # Random-looking but fixed bytes: a SHA-256 chain, not Parquet at all.
    block = b"not parquet"
    junk = bytearray()
    while len(junk) < 4096:
        block = hashlib.sha256(block).digest()
        junk += block
    files["not_parquet.parquet"] = bytes(junk)
    return files


def corpus() -> dict[str, bytes]:
    """Every committed corpus file: relative path -> bytes."""
    return {**_csv_files(), **_parquet_files()}


# --- the big ones, built at test time ---


def write_single_line_10mb(path: Path) -> None:
    """A header, then one 10 MB record with no line end at all."""
    with path.open("wb") as handle:
        handle.write(lines(HEADER))
        handle.write(f"{phone(1)},Ann,{START},{END},,".encode())
        handle.write(b"z" * (10 << 20))


def write_50000_columns(path: Path) -> None:
    """A header of 50,000 columns (the three required among them) and two rows."""
    extra = [f"c{n}" for n in range(49_997)]
    header = ",".join(["number1", "guard_start", "guard_end", *extra])
    filler = "," * len(extra)
    path.write_bytes(
        lines(header, f"{phone(1)},{START},{END}{filler}", f"{phone(2)},{START},never{filler}")
    )


BIG: dict[str, Callable[[Path], None]] = {
    "single_line_10mb.csv": write_single_line_10mb,
    "header_50000_columns.csv": write_50000_columns,
}


def write_corpus(target: Path) -> list[Path]:
    """Write every committed corpus file under `target`; the paths written."""
    written = []
    for name, data in sorted(corpus().items()):
        path = target / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        written.append(path)
    return written


def main() -> None:
    written = write_corpus(Path(sys.argv[1]) if len(sys.argv) > 1 else FILES)
    total = sum(path.stat().st_size for path in written)
    print(f"wrote {len(written)} files, {total:,} bytes")


if __name__ == "__main__":
    main()
