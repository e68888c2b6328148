"""The run directory's state: fresh, unfinished (resumable) or complete, and its secret key.

``private/run.json`` records the config digest and whether the run finished. A fresh run creates the
secret key (``private/run.key``, mode 0600) that every privacy-relevant draw derives from. An
unfinished run with the same digest is resumed with the same key: ids already in committed parts
are skipped, and a re-run record draws the same noise, so the ledger's ε does not change. A changed
config is refused, so a resume never mixes two configurations in one output.
"""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import numpy as np
import pyarrow.dataset as pads

from rpsg_ray.errors import ResumeError
from rpsg_ray.io.layout import RunLayout
from rpsg_ray.privacy.keys import RunKey, create_key, load_key


def read_state(layout: RunLayout) -> dict | None:
    return json.loads(layout.state.read_text()) if layout.state.exists() else None


def write_state(layout: RunLayout, digest: str, status: str, **extra: object) -> None:
    state = {"config_digest": digest, "status": status, "updated": time.strftime("%Y-%m-%dT%H:%M:%S%z"), **extra}
    tmp = layout.state.with_suffix(".tmp")
    tmp.write_text(json.dumps(state, indent=2))
    tmp.replace(layout.state)


def part_files(folder: Path) -> list[str]:
    """The committed parts in `folder` (the seed rows' parts, or a dataset-level method's released rows)."""
    return sorted(str(p) for p in folder.glob("part-*.parquet"))


def done_positions(layout: RunLayout) -> np.ndarray:
    """Sorted input positions (`pos`: file and offset, one per input row) already committed, a compact set to
    ship to workers. By position, not id: another row with the same id (a duplicate, a quarantined row) is
    not done because one row of that id is."""
    files = part_files(layout.parts)
    if not files:
        return np.zeros(0, dtype=np.int64)
    positions = [b.column(0).to_numpy() for b in pads.dataset(files).to_batches(columns=["pos"])]
    return np.sort(np.concatenate(positions)) if positions else np.zeros(0, dtype=np.int64)


def prepare_run_dir(
    layout: RunLayout, digest: str, resume: bool, overwrite: bool
) -> tuple[np.ndarray | None, bool, RunKey]:
    """Returns (done input positions or None, resumed?, the run's secret key)."""
    run_dir = layout.root
    state = read_state(layout)
    if state is not None and overwrite:
        shutil.rmtree(run_dir)
        state = None
    if state is None:
        if resume:
            raise ResumeError(f"{run_dir}: nothing to resume (no unfinished run here)")
        if run_dir.exists() and any(run_dir.iterdir()):
            raise ResumeError(f"{run_dir}: directory is not empty and holds no rpsg run; choose another --output")
        layout.private.mkdir(parents=True, exist_ok=True)
        layout.private.chmod(0o700)
        key = create_key(layout.key)
        write_state(layout, digest, "running")
        return None, False, key
    if state.get("status") == "complete":
        raise ResumeError(f"{run_dir}: holds a complete run; pass --overwrite or choose another --output")
    if state.get("config_digest") != digest:
        raise ResumeError(
            f"{run_dir}: unfinished run used config {state.get('config_digest')}, this one is {digest}; "
            "resume with the same config, or pass --overwrite"
        )
    key = load_key(layout.key)
    for tmp in layout.parts.glob(".tmp-*"):
        tmp.unlink()
    return done_positions(layout), True, key
