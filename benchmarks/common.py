"""Shared helpers for benchmarks: replicated real corpora, peak sampling, JSON + Markdown results."""

from __future__ import annotations

import contextlib
import json
import os
import platform
import threading
import time
from pathlib import Path
from typing import Any

import psutil
import pyarrow as pa
import pyarrow.parquet as pq

RESULTS = Path(os.environ.get("RPSG_BENCH_RESULTS", Path(__file__).resolve().parent / "results"))


def machine() -> str:
    mem = psutil.virtual_memory().total / 2**30
    return f"{platform.machine()}, {psutil.cpu_count()} cores, {mem:.0f} GiB, {platform.python_version()}"


def replicated_corpus(path: Path, rows: int) -> Path:
    """The rotten_tomatoes snippets repeated with new stable ids (`rt-<copy>-<n>`) up to `rows` rows.

    Replication is stated wherever a figure from it is reported: the texts repeat, the ids do not.
    """
    from rpsg_ray.demo_data import write_demo_corpus

    if path.exists() and pq.read_metadata(path).num_rows == rows:
        return path
    base = pq.read_table(write_demo_corpus(path.with_suffix(".base.parquet"), 12_000))
    writer = pq.ParquetWriter(path, base.schema)
    written, copy = 0, 0
    while written < rows:
        take = base.slice(0, min(base.num_rows, rows - written))
        ids = pa.array([f"rt-{copy}-{i}" for i in range(take.num_rows)])
        writer.write_table(take.set_column(0, "id", ids), row_group_size=50_000)
        written += take.num_rows
        copy += 1
    writer.close()
    return path


class PeakSampler:
    """Samples a value every `interval` seconds in a thread and keeps the maximum."""

    def __init__(self, read: Any, interval: float = 0.2) -> None:
        self.read, self.interval, self.peak = read, interval, 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            with contextlib.suppress(Exception):  # the runtime may not be up yet
                self.peak = max(self.peak, float(self.read()))
            time.sleep(self.interval)

    def __enter__(self) -> PeakSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def save(name: str, payload: dict[str, Any], table: list[dict[str, Any]]) -> str:
    """Write results/<name>.json and results/<name>.md; return the Markdown table."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    payload = {
        "benchmark": name,
        "machine": machine(),
        "when": time.strftime("%Y-%m-%d %H:%M"),
        **payload,
        "rows": table,
    }
    (RESULTS / f"{name}.json").write_text(json.dumps(payload, indent=2))
    cols = list(table[0])
    md = [f"| {' | '.join(cols)} |", f"|{'---|' * len(cols)}"]
    md += [f"| {' | '.join(_fmt(r[c]) for c in cols)} |" for r in table]
    text = f"### {name}\n\n{payload['machine']}, {payload['when']}\n\n" + "\n".join(md) + "\n"
    for key in ("target", "verdict", "note"):
        if key in payload:
            text += f"\n{key}: {payload[key]}\n"
    (RESULTS / f"{name}.md").write_text(text)
    return text


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.3g}" if abs(v) < 1000 else f"{v:,.0f}"
    return str(v)
