"""Count the input before the stream starts: rows, valid unique records, duplicates, the seed sample.

Runs as Ray Data passes over ids only (no text is kept): a hash groupby finds duplicate ids, and a
sort over keyed hashes picks the seed sample. The driver receives only the duplicate ids (few) and
scalars, never the corpus.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import ray.data
from ray.data.aggregate import Count, Min

from rpsg_ray.privacy.keys import SEED_SAMPLE, RunKey
from rpsg_ray.rows import DONE, NOT_SAMPLED, OK, QUARANTINED, restatus

DUPLICATE = "duplicate id (an earlier row has the same id)"
DUPLICATE_ALL = "duplicate id (every row with this id is set aside)"


@dataclass
class Inventory:
    input_rows: int
    valid_unique: int
    duplicates: dict[str, int] = field(default_factory=dict)  # id -> pos of the first occurrence
    seed_threshold: int | None = None  # rows with sample_key <= threshold are seeds; None: all
    seeds: int = 0
    labels: dict[str, int] = field(default_factory=dict)  # valid rows per input label ("" : none, classifier's)


def _repeated(batch: pa.Table) -> pa.Table:
    return batch.filter(pc.greater(batch.column("n"), 1))


def _keys(batch: pa.Table, key: RunKey) -> pa.Table:
    ranks = [key.rank(SEED_SAMPLE, i) for i in batch.column("id").to_pylist()]
    return batch.append_column("key", pa.array(ranks, pa.int64()))


def take_inventory(parsed: ray.data.Dataset, key: RunKey, seeds: int | None) -> Inventory:
    """Counts, duplicate ids and the seed sample: the `seeds` records of lowest keyed rank (secret, uniform)."""
    ids = parsed.select_columns(["id", "pos", "status", "label"]).materialize()  # no text: kept in the object store
    input_rows = ids.count()
    valid = ids.map_batches(only_ok, batch_format="pyarrow")
    classes = valid.groupby("label", num_partitions=1).count().take_all()  # one row per class: one partition
    valid = valid.select_columns(["id", "pos"])
    partitions = min(200, 1 + input_rows // 100_000)  # Ray's default of 200 costs ~10 s even for a tiny corpus
    grouped = valid.groupby("id", num_partitions=partitions).aggregate(
        Count(alias_name="n"), Min("pos", alias_name="first")
    )
    grouped = grouped.materialize()
    unique = grouped.count()
    dups = grouped.map_batches(_repeated, batch_format="pyarrow").take_all()
    inventory = Inventory(input_rows, unique, {d["id"]: int(d["first"]) for d in dups}, None, unique)
    inventory.labels = {c["label"] or "": int(c["count()"]) for c in classes}
    if seeds is not None and seeds < unique:
        keyed = grouped.map_batches(_keys, fn_kwargs={"key": key}, batch_format="pyarrow")
        inventory.seed_threshold = int(keyed.sort("key").limit(seeds).max("key"))
        inventory.seeds = seeds
    return inventory


class MarkRows:
    """Quarantine duplicate ids, set aside rows outside the seed sample, skip rows a resumed run has done.

    By default the first row of a duplicated id stays; ``drop_all_duplicates`` sets aside every row of
    it, for mechanisms whose sensitivity assumes one row per id (AUG-PE's one vote per record)."""

    def __init__(
        self, inventory: Inventory, key: RunKey, done: np.ndarray | None = None, drop_all_duplicates: bool = False
    ) -> None:
        self.inventory, self.key, self.drop_all_duplicates = inventory, key, drop_all_duplicates
        self.done = done if done is not None else np.zeros(0, dtype=np.int64)  # input positions committed earlier

    def __call__(self, batch: pa.Table) -> pa.Table:
        ids = batch.column("id").to_pylist()
        pos = batch.column("pos").to_pylist()
        status = batch.column("status").to_pylist()
        dups, threshold = self.inventory.duplicates, self.inventory.seed_threshold
        done = np.isin(np.asarray(pos, dtype=np.int64), self.done)
        changes: dict[int, tuple[str, str | None, str | None]] = {}
        for i, rid in enumerate(ids):
            if done[i]:
                changes[i] = (DONE, None, "committed by an earlier attempt of this run")
            elif status[i] != OK:
                continue
            elif rid in dups and self.drop_all_duplicates:
                changes[i] = (QUARANTINED, "read", DUPLICATE_ALL)
            elif rid in dups and pos[i] != dups[rid]:
                changes[i] = (QUARANTINED, "read", DUPLICATE)
            elif threshold is not None and self.key.rank(SEED_SAMPLE, rid) > threshold:
                changes[i] = (NOT_SAMPLED, "sample", "not drawn into the seed sample")
        return restatus(batch, changes)


def only_ok(batch: pa.Table) -> pa.Table:
    return batch.filter(pc.equal(batch.column("status"), OK))


def only_settled(batch: pa.Table) -> pa.Table:
    """Rows that need no model stage: quarantined, not sampled (already-done rows are not rewritten)."""
    status = batch.column("status")
    return batch.filter(pc.and_(pc.not_equal(status, OK), pc.not_equal(status, DONE)))


def describe(inventory: Inventory) -> dict[str, Any]:
    return {
        "input_rows": inventory.input_rows,
        "valid_unique_records": inventory.valid_unique,
        "duplicate_ids": len(inventory.duplicates),
        "seeds": inventory.seeds,
        "labels": inventory.labels,
    }
