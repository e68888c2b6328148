"""One run for every method: start-up, Ray, the private corpus, the method's plan, the stream, resume,
finalize, the manifests, the ledger and the report. Wiring only; what differs per method is its `Method`
(methods/base.py).

read units → parse+validate → mark (duplicates, seed sample, resume) → the method's stages → committed
Parquet parts; a dataset-level method's released rows → redaction → committed parts of their own; then
finalize (outputs, lineage, manifest, ledger, report). Before the stream: the inventory (counts,
duplicates, seed sample), the privacy ledger, and what the method builds from the private corpus (RPSG:
NLL bound calibration and the private index; AUG-PE: its votes; DP-SGD: its training).
"""

from __future__ import annotations

import logging
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import ray

from rpsg_ray.config import Config
from rpsg_ray.io.corpus import open_private_corpus
from rpsg_ray.io.finalize import RunCounts, finalize
from rpsg_ray.io.inventory import only_ok, only_settled
from rpsg_ray.io.layout import RunLayout
from rpsg_ray.io.run_state import prepare_run_dir, write_state
from rpsg_ray.io.sink import CommittedParquetSink
from rpsg_ray.io.sources import plan_read_units
from rpsg_ray.methods.base import PerRecord, Release, RunContext
from rpsg_ray.methods.registry import method
from rpsg_ray.operators import StageOp, plan_columns, run_stages
from rpsg_ray.phases import PhaseClock
from rpsg_ray.privacy.ledger import Ledger
from rpsg_ray.rows import ROW_SCHEMA
from rpsg_ray.runtime import ray_runtime


@dataclass
class RunResult:
    run_dir: Path
    counts: RunCounts
    ledger: Ledger
    manifest: dict[str, Any]


log = logging.getLogger("rpsg_ray")


def stream(marked: ray.data.Dataset, ops: list[StageOp], sink: CommittedParquetSink) -> None:
    """One Ray Data execution: live rows through the stages, then every row into committed parts. Rows that
    are already settled (quarantined, not sampled, done) skip the model stages, so model batches hold only
    live rows; the two branches partition the input by status."""
    ds = run_stages(marked.map_batches(only_ok, batch_format="pyarrow"), ops)
    settled = marked.map_batches(only_settled, batch_format="pyarrow")
    ds.union(settled).write_datasink(sink)


def generate(cfg: Config, resume: bool = False, overwrite: bool = False, address: str | None = None) -> RunResult:
    """Run the configured method end to end; returns counts, the ledger and the manifest."""
    from rpsg_ray.manifest import build_manifest, write_outputs
    from rpsg_ray.report import write_report

    started = time.time()
    chosen = method(cfg.method)
    layout = RunLayout(Path(cfg.output_dir))
    units = plan_read_units(cfg.input, tuple(cfg.domain.labels))  # file-level problems fail here, before Ray
    digest = cfg.digest()
    done, resumed, key = prepare_run_dir(layout, digest, resume, overwrite)
    clock = PhaseClock()
    with ray_runtime(cfg.runtime, address):
        clock.start()
        seeds = cfg.input.seeds if chosen.seed_sample else None
        corpus = open_private_corpus(cfg, units, key, seeds, chosen.one_row_per_id, chosen.ledger)
        clock.done("inventory")
        plan = chosen.plan(RunContext(cfg, corpus, layout.checkpoints))
        clock.done("index_and_calibration" if isinstance(plan, PerRecord) else "release")
        linked = isinstance(plan, PerRecord)
        ops = plan.ops if linked else []
        columns = plan_columns(ops, ROW_SCHEMA.names) if linked else plan_columns(plan.ops, plan.rows.columns())
        parts = CommittedParquetSink(str(layout.parts), columns.private)
        windows = corpus.windows(cfg.runtime.stream_window_rows)
        for number, window in enumerate(windows, 1):
            if len(windows) > 1:
                log.info("stream window %d of %d (%d read units)", number, len(windows), len(window))
            stream(corpus.marked(done, window), ops, parts)
        if isinstance(plan, Release):
            publish_release(plan, layout, columns.private)
        clock.done("stream")
        # Finalize reads every committed part and writes the outputs: a worker does it, so the driver's
        # memory stays flat as the corpus grows (in the driver, finalize added ~110 MiB at 240k rows:
        # Parquet writers and allocator pools that do not shrink back).
        task = ray.remote(finalize).options(num_cpus=cfg.runtime.read_num_cpus)
        counts = ray.get(task.remote(layout, key, linked, columns))
        clock.done("finalize")
    ledger = corpus.ledger
    manifest = build_manifest(
        cfg, corpus.inventory, counts, plan.record(), ledger, clock, time.time() - started, resumed
    )
    write_outputs(cfg, layout, manifest, ledger, counts.published)
    write_report(layout, manifest, ledger, counts)
    write_state(layout, digest, "complete")
    return RunResult(layout.root, counts, ledger, manifest)


def publish_release(plan: Release, layout: RunLayout, private: tuple[str, ...]) -> None:
    """A dataset-level method's rows through its operators (redaction) into committed parts. Written whole by
    each attempt: a resumed run rebuilds them from the method's checkpoints, so an earlier attempt's parts go."""
    shutil.rmtree(layout.released, ignore_errors=True)
    run_stages(plan.rows, plan.ops).write_datasink(CommittedParquetSink(str(layout.released), private))
