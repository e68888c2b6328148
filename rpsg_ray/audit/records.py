"""Read candidate records (id, text, label) and a run's members; nothing here logs or raises record text."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from rpsg_ray.errors import InputError
from rpsg_ray.io.run_reader import RunFiles
from rpsg_ray.io.tables import Records, read_table
from rpsg_ray.rows import NOT_SAMPLED, QUARANTINED

UNUSED_STATUSES = (NOT_SAMPLED, QUARANTINED)
"""Lineage statuses of records that never reached a prompt or a filter as a seed."""


def read_records(path: Path, text_field: str = "text", id_field: str = "id", label_field: str = "label") -> Records:
    table = read_table(path)
    for field in (id_field, text_field):
        if field not in table.column_names:
            raise InputError(f"{path}: no {field!r} column")
    ids = pc.cast(table[id_field], pa.string()).to_pylist()
    if len(set(ids)) != len(ids):
        raise InputError(f"{path}: ids are not unique")
    texts = pc.fill_null(pc.cast(table[text_field], pa.string()), "").to_pylist()
    labels = (
        pc.fill_null(pc.cast(table[label_field], pa.string()), "").to_pylist()
        if label_field in table.column_names
        else [""] * len(ids)
    )
    return Records(ids, texts, labels)


@dataclass(frozen=True)
class RunMembership:
    """Which candidate ids a run used, and every seed id it saw (a non-member must not be among those)."""

    used: set[str]
    seen: set[str]
    source: str
    linked: bool
    """Whether outputs are linked to seeds (a per-record method: each output comes from one record)."""


def run_membership(run_dir: Path) -> RunMembership:
    """The lineage rows neither left out of the seed sample nor quarantined: every method writes one (a
    dataset-level method's contributing records are `ok`, linked to no output)."""
    files = RunFiles.open(run_dir)
    files.synthetic(["synthetic_id"], ())  # a run directory, or a one-line error
    table = files.lineage(["seed_id", "status", "synthetic_id"], ["seed_id", "status"])
    if table is None:
        raise InputError(f"{run_dir}: no private/lineage.parquet (a run written before every method kept one)")
    used = pc.invert(pc.is_in(table["status"], pa.array(UNUSED_STATUSES)))
    return RunMembership(
        set(pc.filter(table["seed_id"], used).to_pylist()),
        set(table["seed_id"].to_pylist()),
        "private/lineage.parquet: seeds whose status is not " + " or ".join(UNUSED_STATUSES),
        "synthetic_id" in table.column_names and table["synthetic_id"].null_count < table.num_rows,
    )
