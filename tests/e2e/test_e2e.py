"""End to end through a real Ray runtime and the real packaged models (vLLM for generation)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from conftest import check_run_contract

from rpsg_ray.config import Config, load_config
from rpsg_ray.engines.registry import load_classifier
from rpsg_ray.io.layout import RunLayout
from rpsg_ray.io.run_state import write_state
from rpsg_ray.pipeline import RunResult, generate

ROOT = Path(__file__).resolve().parents[2]
SMALL = [
    "input.seeds=16",
    "rpsg.abstract.candidates=3",
    "rpsg.abstract.max_tokens=32",
    "rpsg.rewrite.attempts=2",
    "rpsg.rewrite.max_tokens=64",
    "rpsg.nll_filter.calibration.sample_size=32",
]


def _config(corpus: Path, run_dir: Path) -> Config:
    return load_config(ROOT / "configs" / "demo.yaml", [*SMALL, f"input.path={corpus}", f"output_dir={run_dir}"])


@pytest.fixture(scope="module")
def real_run(ray_session: None, demo_corpus: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, RunResult]:
    run_dir = tmp_path_factory.mktemp("e2e") / "run"
    return run_dir, generate(_config(demo_corpus, run_dir))


@pytest.mark.e2e
@pytest.mark.timeout(900)
def test_pipeline_on_real_models(real_run: tuple[Path, RunResult], demo_corpus: Path) -> None:
    run_dir, result = real_run
    cfg = _config(demo_corpus, run_dir)
    layout = RunLayout(run_dir)
    manifest = json.loads(layout.private_manifest.read_text())
    counts = manifest["counts"]
    machine = manifest["machine"]  # which CPU the figures come from, and what dtype: auto became on it
    assert machine["cpu"]["model"] and set(machine["engine_dtypes"]) >= {"abstract", "rewrite", "nll_filter"}
    assert machine["engine_threads"]["rewrite"] == cfg.rpsg.rewrite.engine.threads

    # every input row accounted for exactly once
    assert manifest["accounting"]["balanced"]
    dropped = sum(sum(r.values()) for r in counts["dropped"].values())
    assert counts["kept"] + dropped + counts["quarantined_total"] + counts["not_sampled"] == 300
    assert counts["not_sampled"] == 300 - 16 and counts["kept"] > 0

    lineage = pq.read_table(layout.lineage).to_pylist()
    assert len(lineage) == 300 and len({r["seed_id"] for r in lineage}) == 300

    # every output row passed every filter
    bounds = manifest["thresholds"]["nll_filter"]
    synthetic = pq.read_table(layout.synthetic).to_pylist()
    diagnostics = {r["synthetic_id"]: r for r in pq.read_table(layout.diagnostics).to_pylist()}
    assert len(synthetic) == counts["kept"] == len(diagnostics)
    seed_label = {r["id"]: r["label"] for r in pq.read_table(demo_corpus).to_pylist()}
    label_of = {r["synthetic_id"]: seed_label[r["seed_id"]] for r in lineage if r["synthetic_id"]}
    for row in synthetic:
        d = diagnostics[row["synthetic_id"]]
        assert row["text"] and bounds["lo"] <= d["nll"] <= bounds["hi"]
        assert d["max_similarity"] <= cfg.rpsg.similarity_filter.threshold
        assert row["label"] == label_of[row["synthetic_id"]]  # the seed's label, aligned by id
    kept_ids = {r["synthetic_id"] for r in lineage if r["status"] == "ok"}
    assert kept_ids == {r["synthetic_id"] for r in synthetic}
    # sentiment_match is the guard's verdict on each row's own text: VADER on the published (redacted) text agrees
    # with it for nearly every row, which a misaligned diagnostics file would not
    vader = load_classifier("vader").classify([r["text"] for r in synthetic])
    matches = [diagnostics[r["synthetic_id"]]["sentiment_match"] for r in synthetic]
    agree = [(v.label == r["label"]) == m for v, r, m in zip(vader, synthetic, matches, strict=True)]
    assert sum(agree) >= 0.9 * len(agree)

    # outputs are not copies of the seeds
    seeds = {r["text"] for r in pq.read_table(demo_corpus).to_pylist()}
    assert not seeds & {r["text"] for r in synthetic}

    ledger = json.loads(layout.ledger.read_text())
    assert ledger["epsilon"] == 4.0 and ledger["sigma"] == pytest.approx(result.ledger.sigma)
    assert ledger["composition"]["count"] == 2 and ledger["scope"]["not_covered"]
    assert manifest["tokens_generated"]["abstract"] > 0 and manifest["stage_busy_seconds"]["rewrite_1"] > 0
    rss = manifest["driver_peak_rss_mib"]  # a running peak, so it never falls from phase to phase
    assert list(rss) == ["inventory", "index_and_calibration", "stream", "finalize"]
    assert 0 < rss["inventory"] <= rss["index_and_calibration"] <= rss["stream"] <= rss["finalize"]
    report = layout.report.read_text()
    assert f"<td>published synthetic rows</td><td>{counts['published']}</td>" in report
    assert "What the selection buys" in report and "data:image/png;base64," in report
    check_run_contract(run_dir, "rpsg")
    public = json.loads(layout.manifest.read_text())
    assert public["synthetic_rows"] == counts["kept"] and "counts" not in public and "thresholds" not in public


@pytest.mark.e2e
@pytest.mark.timeout(900)
def test_resume_on_vllm_generates_only_the_uncommitted_seeds(
    real_run: tuple[Path, RunResult], demo_corpus: Path, tmp_path: Path
) -> None:
    """A run killed after committing some parts, resumed with the real vLLM engines: the committed rows are kept
    as they were (not generated again), the rest are generated, and every input row is accounted for once."""
    clean, _ = real_run
    out = tmp_path / "resumed"
    cfg = _config(demo_corpus, out)
    source, target = RunLayout(clean), RunLayout(out)
    target.parts.mkdir(parents=True)
    shutil.copy(source.key, target.key)  # the killed attempt's key: the same noise and sampling seeds
    write_state(target, cfg.digest(), "running")
    parts = [pq.read_table(p) for p in sorted(source.parts.glob("part-*.parquet"))]
    seeds = pa.concat_tables(parts, promote_options="default")  # settled parts lack the stage columns
    seeds = seeds.filter(pc.is_in(seeds.column("status"), pa.array(["ok", "dropped"])))  # the rows that ran stages
    assert seeds.num_rows == 16
    committed = seeds.slice(0, 8)  # what a killed attempt had committed: half the seeds, in one part
    pq.write_table(committed, target.parts / "part-0123456789abcdef01234567.parquet")
    before = {r["id"]: r for r in committed.to_pylist()}

    resumed = generate(cfg, resume=True)
    assert resumed.manifest["resumed"] and resumed.manifest["accounting"]["balanced"]
    lineage = pq.read_table(target.lineage).to_pylist()
    assert len(lineage) == 300 and len({r["seed_id"] for r in lineage}) == 300
    after = {r["id"]: r for p in target.parts.glob("part-*.parquet") for r in pq.read_table(p).to_pylist()}
    for rid, row in before.items():  # committed rows survive untouched
        assert after[rid]["synthetic_text"] == row["synthetic_text"] and after[rid]["status"] == row["status"]
    generated = [r for rid, r in after.items() if rid not in before and r["status"] in ("ok", "dropped")]
    assert len(generated) == 8 and all(r["tokens_abstract"] for r in generated)  # the vLLM stages ran for the rest
