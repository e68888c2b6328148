"""RPSG-DP end to end on the real packaged model: the run contract of every method, a fixed draft count from
public figures, the ledger's add/remove guarantee over the whole output, and no record text in what is shared."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from conftest import check_run_contract

from rpsg_ray.config import load_config
from rpsg_ray.pipeline import generate
from rpsg_ray.privacy.private_prediction import PredictionBudget

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.e2e
def test_rpsg_dp_publishes_a_fixed_count_under_a_dataset_level_ledger(
    ray_session: None, demo_corpus: Path, tmp_path: Path
) -> None:
    seeds = tmp_path / "seeds.parquet"
    pq.write_table(pq.read_table(demo_corpus).slice(0, 40), seeds)
    out = tmp_path / "rpsg_dp"
    sets = ["rpsg_dp.groups_per_label=3", "rpsg_dp.outputs_per_group=2", "rpsg_dp.group_size=4"]
    sets += ["rpsg_dp.max_tokens=12", "rpsg_dp.engine.threads=2", "rpsg_dp.resources.batch_size=2"]
    sets += ["privacy.public_records=40"]
    sets += ["stages.quality.enabled=false", f"input.path={seeds}", f"output_dir={out}", "method=rpsg_dp"]
    cfg = load_config(ROOT / "configs" / "demo.yaml", sets)
    result = generate(cfg)
    check_run_contract(out, "rpsg_dp")
    published = pq.read_table(out / "synthetic.parquet")
    assert published.num_rows == 12  # 3 groups per label x 2 labels x 2 drafts, whatever the records
    assert sorted(published.column("label").to_pylist()) == ["negative"] * 6 + ["positive"] * 6
    assert all(t.strip() for t in published.column("text").to_pylist())

    ledger = json.loads((out / "ledger.json").read_text())
    assert ledger["dataset_level"] and ledger["method"] == "rpsg_dp"
    c = ledger["composition"]
    assert c["count"] == 12 * 2 and c["group_size"] == 4
    budget = PredictionBudget(c["clip"], 4, 1.0, 12, 2)
    assert ledger["epsilon"] == pytest.approx(4.0, abs=1e-6) == pytest.approx(budget.epsilon(ledger["delta"]))
    assert result.manifest["release"]["drafts"] == 12

    private = set(pq.read_table(seeds).column("text").to_pylist())
    shared = "".join((out / f).read_text() for f in ("manifest.json", "ledger.json"))
    assert not [t for t in private if t in shared or t in published.column("text").to_pylist()]
