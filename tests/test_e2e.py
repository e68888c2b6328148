"""End to end through a real Ray runtime and the real packaged models (vLLM for generation)."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from rpsg_ray.config import load_config
from rpsg_ray.pipeline import generate

ROOT = Path(__file__).resolve().parents[1]
SMALL = [
    "input.seeds=16",
    "stages.abstract.candidates=3",
    "stages.abstract.max_tokens=32",
    "stages.rewrite.attempts=2",
    "stages.rewrite.max_tokens=64",
    "stages.nll_filter.calibration.sample_size=32",
]


@pytest.mark.e2e
@pytest.mark.timeout(900)
def test_pipeline_on_real_models(ray_session: None, demo_corpus: Path, tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    cfg = load_config(ROOT / "configs" / "demo.yaml", [*SMALL, f"input.path={demo_corpus}", f"output_dir={run_dir}"])
    result = generate(cfg)
    manifest = json.loads((run_dir / "manifest.json").read_text())
    counts = manifest["counts"]

    # every input row accounted for exactly once
    assert manifest["accounting"]["balanced"]
    dropped = sum(sum(r.values()) for r in counts["dropped"].values())
    assert counts["kept"] + dropped + counts["quarantined_total"] + counts["not_sampled"] == 300
    assert counts["not_sampled"] == 300 - 16 and counts["kept"] > 0

    lineage = pq.read_table(run_dir / "lineage.parquet").to_pylist()
    assert len(lineage) == 300 and len({r["seed_id"] for r in lineage}) == 300

    # every output row passed every filter
    bounds = manifest["thresholds"]["nll_filter"]
    synthetic = pq.read_table(run_dir / "synthetic.parquet").to_pylist()
    assert len(synthetic) == counts["kept"]
    for row in synthetic:
        assert row["text"] and bounds["lo"] <= row["nll"] <= bounds["hi"]
        assert row["max_similarity"] <= cfg.stages.similarity_filter.threshold
    kept_ids = {r["synthetic_id"] for r in lineage if r["status"] == "ok"}
    assert kept_ids == {r["synthetic_id"] for r in synthetic}
    assert "seed_id" not in pq.read_schema(run_dir / "synthetic.parquet").names

    # outputs are not copies of the seeds
    seeds = {r["text"] for r in pq.read_table(demo_corpus).to_pylist()}
    assert not seeds & {r["text"] for r in synthetic}

    ledger = json.loads((run_dir / "ledger.json").read_text())
    assert ledger["epsilon"] == 4.0 and ledger["sigma"] == pytest.approx(result.ledger.sigma)
    assert ledger["composition"]["count"] == 2 and ledger["scope"]["not_covered"]
    assert manifest["tokens_generated"]["abstract"] > 0 and manifest["stage_busy_seconds"]["rewrite_1"] > 0
    rss = manifest["driver_peak_rss_mib"]  # a running peak, so it never falls from phase to phase
    assert list(rss) == ["inventory", "index_and_calibration", "stream", "finalize"]
    assert 0 < rss["inventory"] <= rss["index_and_calibration"] <= rss["stream"] <= rss["finalize"]
    assert (run_dir / "report.html").stat().st_size > 10_000
