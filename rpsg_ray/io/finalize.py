"""Turn committed parts into the run's outputs and count everything, streaming batch by batch.

synthetic.parquet  kept rows: synthetic id, text, label, sentiment match, NLL, max similarity (no seed ids)
lineage.parquet    every input row: seed id -> synthetic id (or the stage and reason it stopped); private
quarantine.parquet rows that failed validation: id, source location, reason (no text)
"""

from __future__ import annotations

import hashlib
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from rpsg_ray.rows import DROPPED, NOT_SAMPLED, OK, QUARANTINED

NLL_BINS = np.linspace(0.0, 15.0, 61)
SIM_BINS = np.linspace(-1.0, 1.0, 81)

SYNTHETIC_SCHEMA = pa.schema(
    [
        ("synthetic_id", pa.string()),
        ("text", pa.string()),
        ("label", pa.string()),
        ("sentiment_match", pa.bool_()),
        ("nll", pa.float64()),
        ("max_similarity", pa.float32()),
    ]
)
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


def synthetic_id(config_digest: str, seed_id: str) -> str:
    return "s" + hashlib.blake2b(f"{config_digest}\x1f{seed_id}".encode(), digest_size=8).hexdigest()


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
    ids_seen: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "input_rows": self.rows,
            "kept": self.by_status[OK],
            "dropped": {stage: dict(reasons) for stage, reasons in self.dropped.items()},
            "dropped_total": self.by_status[DROPPED],
            "quarantined": dict(self.quarantined),
            "quarantined_total": self.by_status[QUARANTINED],
            "not_sampled": self.by_status[NOT_SAMPLED],
        }


def _accumulate(counts: RunCounts, batch: pa.Table, max_examples: int) -> None:
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
    for name in batch.column_names:
        if name.startswith(("sec_", "tokens_", "pii_")) or name in (
            "select_agree",
            "rewrite_1_match",
            "rewrite_2_match",
        ):
            col = batch.column(name)
            counts.sums[name] += float(pc.sum(col.cast(pa.float64())).as_py() or 0.0)
            counts.active[name] += col.length() - col.null_count
    for name, bins, hist in (("nll", NLL_BINS, counts.nll_hist), ("max_similarity", SIM_BINS, counts.sim_hist)):
        if name in batch.column_names:
            values = batch.column(name).drop_null().to_numpy(zero_copy_only=False).astype(float)
            hist += np.histogram(np.clip(values[~np.isnan(values)], bins[0], bins[-1]), bins)[0]
    if len(counts.examples) < max_examples and "synthetic_text" in batch.column_names:
        kept = batch.filter(pc.equal(batch.column("status"), OK)).column("synthetic_text").to_pylist()
        counts.examples.extend(kept[: max_examples - len(counts.examples)])


def _column(batch: pa.Table, name: str, type_: pa.DataType) -> pa.Array:
    if name in batch.column_names:
        return batch.column(name).cast(type_)
    return pa.nulls(batch.num_rows, type_)


def finalize(run_dir: Path, config_digest: str, max_examples: int = 5) -> RunCounts:
    parts = run_dir / "parts"
    counts = RunCounts()
    files = sorted(str(p) for p in parts.glob("part-*.parquet"))
    # One part at a time (a part is one write task's rows), so the driver holds one part at most. Parts
    # differ in columns (settled rows never got model outputs); missing columns read as nulls below.
    writers = {
        "synthetic": pq.ParquetWriter(run_dir / "synthetic.parquet", SYNTHETIC_SCHEMA),
        "lineage": pq.ParquetWriter(run_dir / "lineage.parquet", LINEAGE_SCHEMA),
        "quarantine": pq.ParquetWriter(run_dir / "quarantine.parquet", QUARANTINE_SCHEMA),
    }
    try:
        for file in files:
            batch = pq.ParquetFile(file).read(use_threads=False)
            if not batch.num_rows:
                continue
            _accumulate(counts, batch, max_examples)
            ids = batch.column("id").to_pylist()
            status = batch.column("status")
            kept = pc.equal(status, OK)
            sids = pa.array(
                [synthetic_id(config_digest, i) if k else None for i, k in zip(ids, kept.to_pylist(), strict=True)],
                pa.string(),
            )
            writers["lineage"].write_table(
                pa.table(
                    [batch.column("id"), sids, status, batch.column("stage"), batch.column("reason")],
                    schema=LINEAGE_SCHEMA,
                )
            )
            good = batch.filter(kept)
            writers["synthetic"].write_table(
                pa.table(
                    [
                        sids.filter(kept),
                        _column(good, "synthetic_text", pa.string()),
                        _column(good, "label", pa.string()),
                        _column(good, "rewrite_2_match", pa.bool_()),
                        _column(good, "nll", pa.float64()),
                        _column(good, "max_similarity", pa.float32()),
                    ],
                    schema=SYNTHETIC_SCHEMA,
                )
            )
            bad = batch.filter(pc.equal(status, QUARANTINED))
            writers["quarantine"].write_table(
                pa.table([bad.column("id"), bad.column("source"), bad.column("reason")], schema=QUARANTINE_SCHEMA)
            )
    finally:
        for writer in writers.values():
            writer.close()
    return counts
