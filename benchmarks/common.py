"""Shared helpers for benchmarks: replicated real corpora, peak sampling, JSON + Markdown results."""

from __future__ import annotations

import contextlib
import json
import math
import os
import platform
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import psutil
import pyarrow as pa
import pyarrow.parquet as pq

from rpsg_ray.engines.hardware import describe_cpu

RESULTS = Path(os.environ.get("RPSG_BENCH_RESULTS", Path(__file__).resolve().parent / "results"))
ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "configs" / "demo.yaml"


_IN_PROCESS = False


def cli(*args: str) -> None:
    """One `rpsg` command in its own process (so each run's start-up is measured as a user meets it), or, after
    `share_one_process()`, in this one."""
    if _IN_PROCESS:
        from rpsg_ray.cli import main

        if main(list(args)) != 0:
            sys.exit(f"failed: {' '.join(args)}")
        return
    done = subprocess.run([sys.executable, "-m", "rpsg_ray.cli", *args], capture_output=True, text=True, cwd=ROOT)
    if done.returncode != 0:
        sys.exit(f"failed: {' '.join(args)}\n{done.stderr[-3000:]}")


def share_one_process(config: Path) -> None:
    """Run every later `cli` command in this process, on one Ray runtime started here with `config`'s logical
    CPUs (each command joins it and leaves it running; with fewer CPUs than the config's pools ask for, they wait
    forever). For stand-in smoke runs only, whose figures mean nothing: there, a fresh interpreter's imports and
    a fresh Ray per command were most of the wall time."""
    global _IN_PROCESS
    from rpsg_ray.config import load_config
    from rpsg_ray.runtime import start_ray

    start_ray(num_cpus=load_config(config).runtime.local_num_cpus)
    _IN_PROCESS = True


def generate(
    method: str, out: Path, corpus: Path, sets: dict[str, object], config: Path = DEMO, resume: bool = False
) -> dict[str, Any]:
    """One run of `method` on the demo config: retained rows (the public manifest's count, written the same way
    by every method), wall seconds and generated tokens (from the full manifest, private-derived). With `resume`,
    a finished run (its full manifest written) is read back instead; an interrupted one is run again."""
    if resume and (out / "private" / "manifest.json").exists():
        return run_figures(out)
    args = ["generate", "--method", method, "--config", str(config), "--input", str(corpus), "--output", str(out)]
    for key, value in {**sets, "runtime.progress": "false"}.items():
        args += ["--set", f"{key}={value}"]
    cli(*args, "--overwrite")
    return run_figures(out)


def epsilon_set(method: str, epsilon: float) -> dict[str, object]:
    """The config override for a method's ε: `null` (no noise, no claim) for ∞."""
    return {f"{method}.epsilon": "null" if math.isinf(epsilon) else epsilon}


def run_figures(out: Path) -> dict[str, Any]:
    """A finished run's retained rows, wall seconds and generated tokens, read from its manifests."""
    public = json.loads((out / "manifest.json").read_text())
    full = json.loads((out / "private" / "manifest.json").read_text())
    tokens = full["tokens_generated"]  # per stage for the streaming methods, one count for the others
    return {
        "retained": public["synthetic_rows"],
        "wall_s": full["wall_seconds"],
        "tokens": sum(tokens.values()) if isinstance(tokens, dict) else tokens,
    }


def evaluate(run_dirs: list[Path], out: Path, *extra: str, reuse: bool = False) -> dict[Path, dict[str, Any]]:
    """`rpsg evaluate` over all runs at once (one real-data ceiling, matched sample sizes): metrics per run;
    `extra`: further flags of the command; `reuse`: keep an evaluate already in `out` that covers every run."""
    saved = out / "metrics.json"
    covered = reuse and saved.exists() and {str(d) for d in run_dirs} <= _evaluated(saved)
    if not covered:
        cli("evaluate", *map(str, run_dirs), "--output", str(out), *extra)
    methods = json.loads(saved.read_text())["methods"]
    return {Path(m["run_dir"]): m["metrics"] for m in methods if m["kind"] == "synthetic"}


def _evaluated(metrics: Path) -> set[str]:
    return {m["run_dir"] for m in json.loads(metrics.read_text())["methods"] if m["kind"] == "synthetic"}


def machine() -> str:
    mem = psutil.virtual_memory().total / 2**30
    return f"{describe_cpu()}, {mem:.0f} GiB, Python {platform.python_version()}"


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


class CpuProfile:
    """CPU seconds used during a window by this process and every descendant (raylets, GCS, Ray workers),
    grouped by role: where the machine's cores went, to explain a ratio rather than guess at it.

    Polled in a thread so that processes that exit inside the window are still counted up to their last poll.
    """

    def __init__(self, interval: float = 0.25) -> None:
        self.interval = interval
        self._first: dict[tuple[int, float], float] = {}
        self._last: dict[tuple[int, float], tuple[str, float]] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self.wall = 0.0

    @staticmethod
    def _role(proc: psutil.Process) -> str:
        if proc.pid == os.getpid():
            return "driver"
        cmd = proc.cmdline()
        title = cmd[0] if cmd else proc.name()
        if title.startswith("ray::"):
            return title.split(" ")[0]
        if not Path(title).name.startswith("python"):
            return Path(title).name  # raylet, gcs_server, ...
        script = next((Path(a).name for a in cmd[1:] if a.endswith(".py")), " ".join(cmd[1:3])[-40:])
        return f"python {script}"

    def _poll(self) -> None:
        me = psutil.Process()
        for proc in [me, *me.children(recursive=True)]:
            with contextlib.suppress(psutil.Error):
                key = (proc.pid, proc.create_time())
                t = proc.cpu_times()
                used = t.user + t.system
                self._first.setdefault(key, 0.0 if key[1] >= self._start else used)
                self._last[key] = (self._role(proc), used)

    def _run(self) -> None:
        while not self._stop.is_set():
            self._poll()
            time.sleep(self.interval)

    def __enter__(self) -> CpuProfile:
        self._start = time.time()
        self._poll()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self._poll()
        self.wall = time.time() - self._start

    def by_role(self) -> dict[str, float]:
        """CPU seconds per role, largest first, plus the share of the machine's cores they add up to."""
        roles: dict[str, float] = {}
        for key, (role, used) in self._last.items():
            roles[role] = roles.get(role, 0.0) + used - self._first[key]
        ranked = {k: round(v, 1) for k, v in sorted(roles.items(), key=lambda kv: -kv[1]) if v >= 0.05}
        ranked["wall_s"] = round(self.wall, 1)
        ranked["cores_busy"] = round(sum(roles.values()) / max(self.wall, 1e-9), 2)
        return ranked


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
    cols = list(dict.fromkeys(c for r in table for c in r))  # rows may differ: the planted leak is not evaluated
    md = [f"| {' | '.join(cols)} |", f"|{'---|' * len(cols)}"]
    md += [f"| {' | '.join(_fmt(r.get(c, '–')) for c in cols)} |" for r in table]
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
