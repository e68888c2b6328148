"""Checkpoints of a dataset-level method between its phases, so a resumed run continues where the last attempt
stopped. They live under private/ (derived from votes or training on private records) and are written whole
(temp file, then rename), so a kill never leaves half a checkpoint that a resume would trust."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

META = b"rpsg_checkpoint"
Step = tuple[int, pa.Table, dict[str, Any]]  # a step's number, its table and its meta


def save_step(folder: Path, step: int, table: pa.Table, meta: dict[str, Any]) -> None:
    """Step `step`'s table with `meta` (JSON) in its schema metadata."""
    folder.mkdir(parents=True, exist_ok=True)
    tmp = folder / f".tmp-step-{step:04d}.parquet"
    pq.write_table(table.replace_schema_metadata({META: json.dumps(meta).encode()}), tmp)
    os.replace(tmp, folder / f"step-{step:04d}.parquet")


def last_step(folder: Path) -> Step | None:
    """The latest completed step, its table and its meta; None before the first."""
    steps = sorted(folder.glob("step-*.parquet"))
    if not steps:
        return None
    table = pq.read_table(steps[-1])
    meta = json.loads(table.schema.metadata[META])
    return int(steps[-1].stem.removeprefix("step-")), table.replace_schema_metadata(None), meta


def save_json(path: Path, data: dict[str, Any]) -> None:
    """A small record (a finished training's statistics) that marks a phase complete."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".tmp-{path.name}")
    tmp.write_text(json.dumps(data))
    os.replace(tmp, path)


def load_json(path: Path) -> dict[str, Any] | None:
    return json.loads(path.read_text()) if path.exists() else None
