"""The state store's cost per chunk: what a load writes and reads in the store for one chunk of
1,000 contacts (its send slot, the request's time, the chunk's outcome, the dead letters the
delivered rows retire), against the request interval at Five9's real limit."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from sinks.ledger import RunLedger

CHUNK = 1_000


def seconds_per_chunk(url: str | None, chunks: int = 40) -> float:
    """Mean seconds of store work per chunk, over `chunks` chunks of one run."""
    with tempfile.TemporaryDirectory(prefix="contacts-store-") as state:
        ledger = RunLedger(Path(state), url)
        try:
            ledger.begin("bench-run", "bench", {})
            ledger.lock("bench-run")
            keys = ("number1",)
            began = time.perf_counter()
            for number in range(chunks):
                codes = range(number * CHUNK, (number + 1) * CHUNK)
                ledger.reserve_slot("bench-credential", 0.0)
                ledger.record_send("bench-credential", time.time())
                ledger.record_chunk("bench-run", number, codes)
                ledger.remove_dead_letters("bench", (("bench-run", code) for code in codes))
                values = [(str(2_000_000_000 + code),) for code in codes]
                ledger.drop_superseded("bench", "bench-run", keys, values)
            return (time.perf_counter() - began) / chunks
        finally:
            ledger.close()
