"""Turn committed parts into the run's outputs and count everything, one part at a time.

synthetic.parquet            published: synthetic id (keyed, unlinkable to the seed), text, label, in a
                             keyed random order that does not follow the seeds
private/diagnostics.parquet  per published row: sentiment match, NLL, max similarity, selection details
private/lineage.parquet      every input row: seed id -> synthetic id (or the stage and reason it stopped)
private/quarantine.parquet   rows that failed validation: id, source location, reason (no text)
"""

from __future__ import annotations

import shutil
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from rpsg_ray.io.layout import RunLayout
from rpsg_ray.io.run_state import part_files
from rpsg_ray.privacy.keys import RunKey
from rpsg_ray.rows import DROPPED, NOT_SAMPLED, OK, QUARANTINED, Columns

NLL_BINS = np.linspace(0.0, 15.0, 61)
SIM_BINS = np.linspace(-1.0, 1.0, 81)

SYNTHETIC_SCHEMA = pa.schema([("synthetic_id", pa.string()), ("text", pa.string()), ("label", pa.string())])
LINEAGE_SCHEMA = pa.schema(
    [
        ("seed_id", pa.string()),
        ("synthetic_id", pa.string()),
        ("status", pa.string()),
        ("stage", pa.string()),
        ("reason", pa.string()),
    ]
)
QUARANTINE_SCHEMA = pa.schema([("id", pa.string()), ("source", pa.string()), ("reason", pa.string())])


@dataclass
class RunCounts:
    rows: int = 0
    by_status: Counter[str] = field(default_factory=Counter)
    dropped: dict[str, Counter[str]] = field(default_factory=lambda: defaultdict(Counter))
    quarantined: Counter[str] = field(default_factory=Counter)
    sums: Counter[str] = field(default_factory=Counter)
    active: Counter[str] = field(default_factory=Counter)
    nll_hist: np.ndarray = field(default_factory=lambda: np.zeros(len(NLL_BINS) - 1, dtype=np.int64))
    sim_hist: np.ndarray = field(default_factory=lambda: np.zeros(len(SIM_BINS) - 1, dtype=np.int64))
    examples: list[str] = field(default_factory=list)
    published: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "input_rows": self.rows,
            "kept": self.by_status[OK],
            "published": self.published,
            "dropped": {stage: dict(reasons) for stage, reasons in self.dropped.items()},
            "dropped_total": self.by_status[DROPPED],
            "quarantined": dict(self.quarantined),
            "quarantined_total": self.by_status[QUARANTINED],
            "not_sampled": self.by_status[NOT_SAMPLED],
        }


@dataclass(frozen=True)
class Diagnostics:
    """Everything per published row that was compared with private data, as the plan's stages declare it:
    (column in parts, column in diagnostics.parquet, type)."""

    columns: tuple[tuple[str, str, pa.DataType], ...]

    @classmethod
    def of(cls, plan: Columns) -> Diagnostics:
        return cls(tuple((col, name, plan.outputs[col]) for col, name in plan.diagnostics.items()))

    @property
    def schema(self) -> pa.Schema:
        return pa.schema([("synthetic_id", pa.string())] + [(name, t) for _, name, t in self.columns])

    def table(self, good: pa.Table, sids: pa.Array) -> pa.Table:
        return pa.table([sids, *(_column(good, col, t) for col, _, t in self.columns)], schema=self.schema)


def _accumulate(counts: RunCounts, batch: pa.Table, max_examples: int, summed: frozenset[str]) -> None:
    """Statuses and reasons of seed rows, and their sums, histograms and examples."""
    counts.rows += batch.num_rows
    status = batch.column("status").to_pylist()
    stage = batch.column("stage").to_pylist()
    reason = batch.column("reason").to_pylist()
    for s, st, r in zip(status, stage, reason, strict=True):
        counts.by_status[s] += 1
        if s == DROPPED:
            counts.dropped[st][r] += 1
        elif s == QUARANTINED:
            counts.quarantined[r] += 1
    _accumulate_sums(counts, batch, summed)
    _examples(counts, batch.filter(pc.equal(batch.column("status"), OK)), max_examples)


def _accumulate_sums(counts: RunCounts, batch: pa.Table, summed: frozenset[str]) -> None:
    """Per-stage seconds, tokens, PII counts and flags, the columns the stages declare summed, and the filter
    histograms."""
    for name in batch.column_names:
        if name.startswith(("sec_", "tokens_", "pii_", "flag_")) or name in summed:
            col = batch.column(name)
            counts.sums[name] += float(pc.sum(col.cast(pa.float64())).as_py() or 0.0)
            if name.startswith("tokens_"):  # rows the stage prompted for: the manifest's request count
                counts.active[name] += int(pc.sum(pc.greater(col, 0)).as_py() or 0)
            else:
                counts.active[name] += col.length() - col.null_count
    for name, bins, hist in (("nll", NLL_BINS, counts.nll_hist), ("max_similarity", SIM_BINS, counts.sim_hist)):
        if name in batch.column_names:
            values = batch.column(name).drop_null().to_numpy(zero_copy_only=False).astype(float)
            hist += np.histogram(np.clip(values[~np.isnan(values)], bins[0], bins[-1]), bins)[0]


def _examples(counts: RunCounts, kept: pa.Table, max_examples: int) -> None:
    if len(counts.examples) < max_examples and "synthetic_text" in kept.column_names:
        texts = kept.column("synthetic_text").to_pylist()
        counts.examples.extend(texts[: max_examples - len(counts.examples)])


def _column(batch: pa.Table, name: str, type_: pa.DataType) -> pa.Array:
    if name in batch.column_names:
        return batch.column(name).cast(type_)
    return pa.nulls(batch.num_rows, type_)


def finalize(layout: RunLayout, key: RunKey, linked: bool, plan: Columns, max_examples: int = 5) -> RunCounts:
    """Lineage, quarantine and counts from the seed rows' parts; the published rows and their diagnostics from
    the kept seed rows (`linked`: a per-record method) or from the rows a dataset-level method released, whose
    lineage then names no output (every kept record contributed to all of them)."""
    counts, diagnostics, summed = RunCounts(), Diagnostics.of(plan), frozenset(plan.summed)
    buckets = layout.private / "shuffle"
    bucket_writers: dict[int, pq.ParquetWriter] = {}
    # One part at a time (a part is one write task's rows), so the driver holds one part at most. Parts
    # differ in columns (settled rows never got model outputs); missing columns read as nulls below.
    writers = {
        "diagnostics": pq.ParquetWriter(layout.diagnostics, diagnostics.schema),
        "lineage": pq.ParquetWriter(layout.lineage, LINEAGE_SCHEMA),
        "quarantine": pq.ParquetWriter(layout.quarantine, QUARANTINE_SCHEMA),
    }
    try:
        for batch in _parts(layout.parts):
            _accumulate(counts, batch, max_examples, summed)
            status = batch.column("status")
            kept = pc.equal(status, OK)
            ids = batch.column("id").to_pylist()
            sids = pa.array(
                [key.output_id(i) if k and linked else None for i, k in zip(ids, kept.to_pylist(), strict=True)]
            )
            writers["lineage"].write_table(
                pa.table(
                    [batch.column("id"), sids.cast(pa.string()), status, batch.column("stage"), batch.column("reason")],
                    schema=LINEAGE_SCHEMA,
                )
            )
            bad = batch.filter(pc.equal(status, QUARANTINED))
            writers["quarantine"].write_table(
                pa.table([bad.column("id"), bad.column("source"), bad.column("reason")], schema=QUARANTINE_SCHEMA)
            )
            if linked:
                published = _publish(batch.filter(kept), sids.filter(kept), counts, buckets, bucket_writers)
                writers["diagnostics"].write_table(diagnostics.table(*published))
        for batch in [] if linked else _parts(layout.released):
            _accumulate_sums(counts, batch, summed)
            good = batch.filter(pc.equal(batch.column("status"), OK))
            sids = pa.array([key.output_id(i) for i in good.column("id").to_pylist()], pa.string())
            published = _publish(good, sids, counts, buckets, bucket_writers)
            writers["diagnostics"].write_table(diagnostics.table(*published))
            _examples(counts, good, max_examples)
    finally:
        for writer in [*writers.values(), *bucket_writers.values()]:
            writer.close()
    _write_shuffled(layout.synthetic, buckets, sorted(bucket_writers))
    return counts


def _parts(folder: Path) -> Iterator[pa.Table]:
    for file in part_files(folder):
        batch = pq.ParquetFile(file).read(use_threads=False)
        if batch.num_rows:
            yield batch


def _publish(
    good: pa.Table, sids: pa.Array, counts: RunCounts, buckets: Path, bucket_writers: dict[int, pq.ParquetWriter]
) -> tuple[pa.Table, pa.Array]:
    """The published rows under their keyed ids, spread into buckets for the keyed shuffle; returns the rows
    and their ids, for the diagnostics."""
    sids = sids.cast(pa.string())
    counts.published += good.num_rows
    published = pa.table(
        [sids, _column(good, "synthetic_text", pa.string()), _column(good, "label", pa.string())],
        schema=SYNTHETIC_SCHEMA,
    )
    _spread(published, buckets, bucket_writers)
    return good, sids


def _spread(published: pa.Table, buckets: Path, writers: dict[int, pq.ParquetWriter]) -> None:
    """Append rows to the bucket named by their id's first hex digit (ids are keyed hashes: uniform)."""
    if not published.num_rows:
        return
    bucket_of = np.array([int(i[1], 16) for i in published.column("synthetic_id").to_pylist()])
    for b in np.unique(bucket_of):
        if b not in writers:
            buckets.mkdir(parents=True, exist_ok=True)
            writers[b] = pq.ParquetWriter(buckets / f"bucket-{b:02d}.parquet", SYNTHETIC_SCHEMA)
        writers[b].write_table(published.filter(pa.array(bucket_of == b)))


def _write_shuffled(target: Path, buckets: Path, used: list[int]) -> None:
    """The published file in keyed-id order: a random permutation to anyone without the key, built one
    bucket (1/16 of the published rows) at a time."""
    with pq.ParquetWriter(target, SYNTHETIC_SCHEMA) as writer:
        for b in used:
            table = pq.read_table(buckets / f"bucket-{b:02d}.parquet")
            writer.write_table(table.sort_by("synthetic_id"))
    if buckets.exists():
        shutil.rmtree(buckets)
