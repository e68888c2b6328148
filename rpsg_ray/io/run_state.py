"""The run directory's state: fresh, unfinished (resumable) or complete.

``run.json`` records the config digest and whether the run finished. An unfinished run with the
same digest is resumed: ids already in committed parts are skipped, and since noise is seeded by
record id, re-run seeds would draw the same noise anyway: the ledger's ε does not change. A
changed config is refused, so a resume never mixes two configurations in one output.
"""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import numpy as np
import pyarrow.dataset as pads

from rpsg_ray.errors import ResumeError
from rpsg_ray.io.inventory import id_hashes

STATE = "run.json"


def read_state(run_dir: Path) -> dict | None:
    path = run_dir / STATE
    return json.loads(path.read_text()) if path.exists() else None


def write_state(run_dir: Path, digest: str, status: str, **extra: object) -> None:
    state = {"config_digest": digest, "status": status, "updated": time.strftime("%Y-%m-%dT%H:%M:%S%z"), **extra}
    tmp = run_dir / (STATE + ".tmp")
    tmp.write_text(json.dumps(state, indent=2))
    tmp.replace(run_dir / STATE)


def done_ids(run_dir: Path) -> np.ndarray:
    """Sorted 64-bit hashes of ids already committed (a compact set to ship to workers)."""
    files = sorted(str(p) for p in (run_dir / "parts").glob("part-*.parquet"))
    if not files:
        return np.zeros(0, dtype=np.uint64)
    hashes = [id_hashes(b.column(0).to_pylist()) for b in pads.dataset(files).to_batches(columns=["id"])]
    return np.sort(np.concatenate(hashes)) if hashes else np.zeros(0, dtype=np.uint64)


def prepare_run_dir(run_dir: Path, digest: str, resume: bool, overwrite: bool) -> tuple[np.ndarray | None, bool]:
    """Returns (done id hashes or None, resumed?)."""
    state = read_state(run_dir)
    if state is not None and overwrite:
        shutil.rmtree(run_dir)
        state = None
    if state is None:
        if resume:
            raise ResumeError(f"{run_dir}: nothing to resume (no unfinished run here)")
        if run_dir.exists() and any(run_dir.iterdir()):
            raise ResumeError(f"{run_dir}: directory is not empty and holds no rpsg run; choose another --output")
        run_dir.mkdir(parents=True, exist_ok=True)
        write_state(run_dir, digest, "running")
        return None, False
    if state.get("status") == "complete":
        raise ResumeError(f"{run_dir}: holds a complete run; pass --overwrite or choose another --output")
    if state.get("config_digest") != digest:
        raise ResumeError(
            f"{run_dir}: unfinished run used config {state.get('config_digest')}, this one is {digest}; "
            "resume with the same config, or pass --overwrite"
        )
    for tmp in (run_dir / "parts").glob(".tmp-*"):
        tmp.unlink()
    return done_ids(run_dir), True
