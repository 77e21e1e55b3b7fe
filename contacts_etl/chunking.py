"""Ready contacts cut into upload chunks of exactly the request size, in order, made ahead in a
worker thread so reading and validating never stall the sink's event loop."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterator

import numpy as np
import pandas as pd

from contacts_etl.pipeline import ContactPipeline, ReadyBatch
from sinks.chunk import Chunk

Prepare = Callable[[pd.DataFrame], pd.Series | None]


def chunks_of(
    batches: Iterator[ReadyBatch], size: int, prepare: Prepare = lambda _: None
) -> Iterator[Chunk]:
    """Cut the contacts into chunks of exactly `size` (the last may be smaller), in order,
    each with what the wire `prepare`s for its contacts, made a whole batch at a time."""
    number = 0
    carry: Chunk | None = None
    for batch in batches:
        objects = prepare(batch.contacts)
        whole = Chunk(number, batch.contacts, batch.originals, batch.codes, objects)
        if carry is not None:
            whole = _joined(carry, whole)
        start, rows = 0, len(whole.codes)
        while rows - start >= size:
            yield _rows(whole, start, start + size, number)
            number += 1
            start += size
        carry = _rows(whole, start, rows, number) if start < rows else None
    if carry is not None:
        yield carry


def _rows(chunk: Chunk, start: int, stop: int, number: int) -> Chunk:
    """Rows start..stop of a batch's chunk: its frames (and what was made ahead for it) are
    sliced only when read."""
    rows = slice(start, stop)
    return Chunk(number, chunk.contacts, chunk.originals, chunk.codes[rows], chunk.prepared, rows)


def _joined(first: Chunk, second: Chunk) -> Chunk:
    objects = None
    if first.prepared is not None and second.prepared is not None:
        objects = pd.concat([first.prepared, second.prepared], ignore_index=True)
    return Chunk(
        first.number,
        pd.concat([first.contacts, second.contacts], ignore_index=True),
        pd.concat([first.originals, second.originals], ignore_index=True),
        np.concatenate([first.codes, second.codes]),
        objects,
    )


async def made_ahead(
    chunks: Iterator[Chunk], pipeline: ContactPipeline, settled: Callable[[int], None]
) -> AsyncIterator[Chunk]:
    """The chunks, each made in a worker thread so reading and validating never stall the
    event loop (and the pacer); rows the pipeline set aside are reported as settled."""
    reported = 0
    while True:
        chunk = await asyncio.to_thread(next, chunks, None)
        settled(pipeline.set_aside - reported)
        reported = pipeline.set_aside
        if chunk is None:
            return
        yield chunk
