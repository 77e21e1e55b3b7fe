"""Write the sample contacts (CSV and Parquet), a CRM export with its mapping, and the buckets
each row is meant to land in. Deterministic: run it again and the files do not change.

    python data/samples/make_samples.py
"""

from __future__ import annotations

import csv
import json
import random
from pathlib import Path

import pandas as pd

HERE = Path(__file__).parent
COLUMNS = [
    "number1",
    "number2",
    "first_name",
    "last_name",
    "company",
    "street",
    "city",
    "state",
    "zip",
    "guard_start",
    "guard_end",
    "timezone",
    "account_id",
    "segment",
]
PLACES = [
    ("New York", "NY", "10001", "America/New_York", "212"),
    ("Boston", "MA", "02108", "America/New_York", "617"),
    ("Chicago", "IL", "60601", "America/Chicago", "312"),
    ("Dallas", "TX", "75201", "America/Chicago", "214"),
    ("Denver", "CO", "80202", "America/Denver", "303"),
    ("Phoenix", "AZ", "85004", "America/Phoenix", "602"),
    ("Los Angeles", "CA", "90012", "America/Los_Angeles", "213"),
    ("Seattle", "WA", "98101", "America/Los_Angeles", "206"),
    ("Anchorage", "AK", "99501", "America/Anchorage", "907"),
    ("Honolulu", "HI", "96813", "Pacific/Honolulu", "808"),
]
FIRST = ["Ann", "Bo", "Carmen", "Dev", "Elif", "Femi", "Grace", "Hiro", "Ines", "Jonah", "Kai"]
LAST = ["Lee", "Okafor", "Garcia", "Patel", "Yilmaz", "Adeyemi", "Chen", "Sato", "Silva", "Berg"]
COMPANIES = ["Acme Dental", "Northwind", "Blue Harbor Insurance", "", "Summit Realty", ""]
SEGMENTS = ["renewal", "callback", "winback", "new"]


def phone(rng: random.Random, area: str) -> str:
    """A North American number in one of the ways people write them."""
    exchange, line = rng.randint(200, 999), rng.randint(0, 9999)
    digits = f"{area}{exchange}{line:04d}"
    style = rng.randrange(5)
    if style == 0:
        return f"({area}) {exchange}-{line:04d}"
    if style == 1:
        return f"{area}.{exchange}.{line:04d}"
    if style == 2:
        return f"+1 {area} {exchange} {line:04d}"
    if style == 3:
        return f"1-{area}-{exchange}-{line:04d}"
    return digits


def window(rng: random.Random, zone: str) -> tuple[str, str, str]:
    """A future window in one of the accepted forms, with the zone column sometimes blank."""
    day = pd.Timestamp("2027-12-01") + pd.Timedelta(days=rng.randrange(0, 120))
    start_hour = rng.randint(8, 12)
    end_hour = rng.randint(start_hour + 2, 20)
    start = day + pd.Timedelta(hours=start_hour, minutes=rng.choice([0, 15, 30]))
    end = day + pd.Timedelta(hours=end_hour, minutes=rng.choice([0, 30, 45]))
    form = rng.randrange(4)
    row_zone = "" if zone == "America/New_York" and rng.random() < 0.5 else zone
    if form == 0:
        return start.strftime("%Y-%m-%d %H:%M"), end.strftime("%Y-%m-%d %H:%M"), row_zone
    if form == 1:
        us_start = f"{start.month}/{start.day}/{start.year} {start.strftime('%I:%M %p')}"
        return us_start, f"{end.month}/{end.day}/{end.year} {end.strftime('%H:%M')}", row_zone
    if form == 2:
        aware_start = start.tz_localize(zone).isoformat()
        return aware_start, end.tz_localize(zone).isoformat(), zone
    utc_start = start.tz_localize(zone).tz_convert("UTC")
    utc_end = end.tz_localize(zone).tz_convert("UTC")
    return str(utc_start.value // 1_000_000), str(utc_end.value // 1_000_000), zone


def good_row(rng: random.Random, index: int) -> dict[str, str]:
    city, state, zip_code, zone, area = rng.choice(PLACES)
    start, end, row_zone = window(rng, zone)
    return {
        "number1": phone(rng, area),
        "number2": phone(rng, area) if rng.random() < 0.3 else "",
        "first_name": rng.choice(FIRST),
        "last_name": rng.choice(LAST),
        "company": rng.choice(COMPANIES),
        "street": f"{rng.randint(1, 999)} {rng.choice(['Main', 'Oak', 'Pine', 'Lake'])} St",
        "city": city,
        "state": state,
        "zip": zip_code,
        "guard_start": start,
        "guard_end": end,
        "timezone": row_zone,
        "account_id": f"AC-{100000 + index}",
        "segment": rng.choice(SEGMENTS),
    }


# Rows that must be set aside, each with the fault it carries.
INVALID = [
    {"number1": "555-CALL-NOW"},
    {"number1": "12345"},
    {"number1": ""},
    {"number2": "0800 123"},
    {"guard_start": "tomorrow"},
    {"guard_end": "25:00"},
    {"guard_start": "2028-02-30 09:00"},
    {"guard_start": "05.01.2028 09:00"},
    {"guard_start": "2028-01-05 09:00 EST"},
    {"guard_start": "17961336000"},
    {"guard_start": ""},
    {"timezone": "Mars/Olympus_Mons"},
    {"timezone": "EST"},
    {"guard_start": "2028-01-05 17:00", "guard_end": "2028-01-05 09:00"},
    {"guard_start": "2028-01-05 09:00:40", "guard_end": "2028-01-05 09:01:10"},
    {"number1": "tbd", "guard_start": "soon"},
]
EXPIRED = [
    {"guard_start": "2025-06-01 09:00", "guard_end": "2025-06-01 17:00"},
    {"guard_start": "2026-01-05T09:00:00-05:00", "guard_end": "2026-01-05T17:00:00-05:00"},
    {"guard_start": "1767621600000", "guard_end": "1767650400000"},
]
# Daylight-saving edges in the run's default zone (America/New_York).
DST_EDGES = [
    {"guard_start": "2028-03-12 02:30", "guard_end": "2028-03-12 12:00", "timezone": ""},
    {"guard_start": "2027-11-07 01:30", "guard_end": "2027-11-07 09:00", "timezone": ""},
]


def build(rng: random.Random) -> tuple[list[dict[str, str]], list[str], dict[int, int]]:
    """The rows, the bucket each must land in, and for each duplicate the row that beats it."""
    rows: list[dict[str, str]] = []
    buckets: list[str] = []
    for index in range(300):
        rows.append(good_row(rng, index))
        buckets.append("valid")
    for fault in INVALID:
        at = rng.randrange(len(rows))
        rows.insert(at, {**good_row(rng, 900 + at), **fault})
        buckets.insert(at, "invalid")
    for fault in EXPIRED + DST_EDGES:
        at = rng.randrange(len(rows))
        rows.insert(at, {**good_row(rng, 950 + at), **fault})
        buckets.insert(at, "expired" if fault in EXPIRED else "valid")
    # Later rows with a number already used, written another way: the earlier row loses.
    beaten: dict[int, int] = {}
    candidates = [i for i, b in enumerate(buckets) if b == "valid"]
    for earlier in rng.sample(candidates, 8):
        digits = "".join(ch for ch in rows[earlier]["number1"] if ch.isdigit())[-10:]
        later = {**good_row(rng, 990), "number1": f"({digits[:3]}) {digits[3:6]}-{digits[6:]}"}
        rows.append(later)
        buckets.append("valid")
        buckets[earlier] = "duplicate"
        beaten[earlier] = len(rows) - 1
    return rows, buckets, beaten


def main() -> None:
    rng = random.Random(20261127)
    rows, buckets, beaten = build(rng)
    with (HERE / "contacts.csv").open("w", newline="", encoding="utf-8") as out:
        writer = csv.DictWriter(out, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    frame = pd.DataFrame(rows, columns=COLUMNS).astype("str")
    frame.to_parquet(HERE / "contacts.parquet", index=False)

    crm = {
        "Mobile Phone": "number1",
        "Home Phone": "number2",
        "Given Name": "first_name",
        "Family Name": "last_name",
        "Call From": "guard_start",
        "Call Until": "guard_end",
        "Time Zone": "timezone",
    }
    crm_rows = [{crm_name: row[field] for crm_name, field in crm.items()} for row in rows[:40]]
    for crm_row, row in zip(crm_rows, rows[:40], strict=True):
        crm_row["Account"] = row["account_id"]
    with (HERE / "crm_export.csv").open("w", newline="", encoding="utf-8") as out:
        writer = csv.DictWriter(out, fieldnames=[*crm, "Account"], delimiter=";")
        writer.writeheader()
        writer.writerows(crm_rows)

    # The CRM export holds the first 40 rows only: a row beaten by a row past them is valid there.
    crm_buckets = [
        "valid" if b == "duplicate" and beaten[i] >= len(crm_rows) else b
        for i, b in enumerate(buckets[: len(crm_rows)])
    ]
    counts = {bucket: buckets.count(bucket) for bucket in ("valid", "invalid", "expired")}
    counts["duplicate"] = buckets.count("duplicate")
    expected = {
        "as_of": "2026-11-27T00:00:00Z",
        "default_zone": "America/New_York",
        "rows": len(rows),
        "buckets": counts,
        "lines": {
            bucket: [line for line, b in enumerate(buckets, start=2) if b == bucket]
            for bucket in ("invalid", "expired", "duplicate")
        },
        "crm_export_rows": len(crm_rows),
        "crm_export_buckets": {
            b: crm_buckets.count(b) for b in ("valid", "invalid", "expired", "duplicate")
        },
    }
    (HERE / "expected.json").write_text(json.dumps(expected, indent=2) + "\n")


if __name__ == "__main__":
    main()
