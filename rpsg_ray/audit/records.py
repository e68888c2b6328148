"""Read candidate records (id, text, label) and a run's members; nothing here logs or raises record text."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from rpsg_ray.errors import InputError
from rpsg_ray.io.layout import RunLayout
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

    used: set[str] | None
    seen: set[str] | None
    source: str


def run_membership(run_dir: Path) -> RunMembership:
    """RPSG: the lineage rows neither left out of the seed sample nor quarantined. AUG-PE (no lineage): every
    valid record of its input votes, so every candidate in the members file counts (``used`` is None)."""
    layout = RunLayout(run_dir)
    if not layout.synthetic.exists():
        raise InputError(f"{run_dir}: no synthetic.parquet (not a run directory)")
    if not layout.lineage.exists():
        return RunMembership(None, None, "members file (no lineage: every input record counts, as in AUG-PE)")
    table = pq.read_table(layout.lineage, columns=["seed_id", "status"])
    used = pc.invert(pc.is_in(table["status"], pa.array(UNUSED_STATUSES)))
    return RunMembership(
        set(pc.filter(table["seed_id"], used).to_pylist()),
        set(table["seed_id"].to_pylist()),
        "private/lineage.parquet: seeds whose status is not " + " or ".join(UNUSED_STATUSES),
    )
