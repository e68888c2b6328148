"""The row contract every stage shares: one row per input record, drops are data.

A stage never deletes a row. It works on the rows whose ``status`` is ``ok``, fills its output
columns for them (nulls elsewhere, so every block has the same schema), and marks a row it rejects
with ``status='dropped'``, its own name in ``stage`` and a ``reason``. The writer then splits kept
rows from dropped and quarantined ones, so every input row is accounted for exactly once.
"""

from __future__ import annotations

import re
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

OK = "ok"
DROPPED = "dropped"
QUARANTINED = "quarantined"
NOT_SAMPLED = "not_sampled"
DONE = "already_done"

ROW_SCHEMA = pa.schema(
    [
        ("id", pa.string()),
        ("text", pa.string()),
        ("label", pa.string()),
        ("source", pa.string()),
        ("pos", pa.int64()),
        ("status", pa.string()),
        ("stage", pa.string()),
        ("reason", pa.string()),
    ]
)


WHOLE_FLOAT = re.compile(r"^(-?\d+)\.0+$")


def as_label(raw: Any) -> str | None:
    """A label value as written in the input, as a string: 1 and 1.0 alike (JSON and CSV readers disagree on
    numbers), None when missing or blank."""
    if isinstance(raw, float) and raw.is_integer():
        raw = int(raw)
    value = None if raw is None else str(raw).strip() or None
    return WHOLE_FLOAT.sub(r"\1", value) if value else None


def with_columns(table: pa.Table, columns: dict[str, pa.Array]) -> pa.Table:
    for name, values in columns.items():
        if name in table.column_names:
            table = table.set_column(table.column_names.index(name), name, values)
        else:
            table = table.append_column(name, values)
    return table


def scatter(n: int, indices: np.ndarray, values: Sequence[Any], type_: pa.DataType) -> pa.Array:
    """A length-n column holding ``values`` at ``indices`` and nulls elsewhere."""
    full: list[Any] = [None] * n
    for i, v in zip(indices.tolist(), values, strict=True):
        full[i] = v
    return pa.array(full, type=type_)


@dataclass(frozen=True)
class Columns:
    """What a stage declares about the row: the columns it reads, the columns it writes (with types), which of
    those go to private/diagnostics.parquet (column -> name there; a later stage's diagnostic of the same name
    replaces an earlier one's), which hold text derived from a seed (never written to the run's parts), and
    which the manifest sums (rates, counts). The plan checks the chain with it when it is built, and the sink,
    finalize and the manifest take their column lists from it."""

    stage: str
    inputs: tuple[str, ...] = ()
    outputs: dict[str, pa.DataType] = field(default_factory=dict)
    diagnostics: dict[str, str] = field(default_factory=dict)
    private: tuple[str, ...] = ()
    summed: tuple[str, ...] = ()


@dataclass
class StageResult:
    """What a stage computed for its active rows (same order as they came in)."""

    columns: dict[str, list[Any]] = field(default_factory=dict)
    drops: list[str | None] | None = None  # a reason per active row, or None to keep it


class Stage:
    """Base of every map_batches stage: active-row bookkeeping, drops, timing; subclasses do `process`.

    A stage's columns are declared by `columns(**kwargs)` from its constructor arguments (no model loaded), so
    the plan can check the chain on the driver: from the class attributes by default, computed where the
    arguments name them (a rewrite pass's source and output, the redactor's kinds)."""

    name: ClassVar[str]
    inputs: ClassVar[tuple[str, ...]] = ()
    outputs: ClassVar[dict[str, pa.DataType]] = {}
    diagnostics: ClassVar[dict[str, str]] = {}
    private: ClassVar[tuple[str, ...]] = ()
    summed: ClassVar[tuple[str, ...]] = ()

    @classmethod
    def columns(cls, **kwargs: Any) -> Columns:
        return Columns(cls.name, cls.inputs, cls.outputs, cls.diagnostics, cls.private, cls.summed)

    def process(self, rows: pa.Table) -> StageResult:
        raise NotImplementedError

    def output_types(self) -> dict[str, pa.DataType]:
        return self.outputs

    def __call__(self, batch: pa.Table) -> pa.Table:
        start = time.perf_counter()
        n = batch.num_rows
        active = np.flatnonzero(pc.equal(batch.column("status"), OK).to_numpy(zero_copy_only=False))
        result = self.process(batch.take(active)) if len(active) else StageResult()
        columns = {
            name: scatter(n, active, result.columns.get(name, [None] * len(active)), type_)
            for name, type_ in self.output_types().items()
        }
        batch = with_columns(batch, columns)
        if result.drops is not None:
            batch = mark_dropped(batch, active, result.drops, self.name)
        per_row = (time.perf_counter() - start) / max(len(active), 1)
        return with_columns(batch, {f"sec_{self.name}": scatter(n, active, [per_row] * len(active), pa.float64())})


def restatus(batch: pa.Table, changes: dict[int, tuple[str, str | None, str | None]]) -> pa.Table:
    """Set (status, stage, reason) of the rows at the given positions; every other row keeps its own."""
    if not changes:
        return batch
    columns = {name: batch.column(name).to_pylist() for name in ("status", "stage", "reason")}
    for i, values in changes.items():
        for column, value in zip(columns.values(), values, strict=True):
            column[i] = value
    return with_columns(batch, {name: pa.array(values, pa.string()) for name, values in columns.items()})


def mark_dropped(batch: pa.Table, indices: np.ndarray, reasons: Sequence[str | None], stage: str) -> pa.Table:
    changes = {i: (DROPPED, stage, r) for i, r in zip(indices.tolist(), reasons, strict=True) if r is not None}
    return restatus(batch, changes)


def texts(rows: pa.Table, column: str) -> list[str]:
    return [t or "" for t in rows.column(column).to_pylist()]
