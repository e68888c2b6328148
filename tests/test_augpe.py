"""AUG-PE baseline end to end on the real packaged model: call counts, retained samples, and a ledger whose ε
is the one `rpsg account --method augpe` prints."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
from conftest import check_run_contract

from rpsg_ray.config import load_config
from rpsg_ray.io.layout import RunLayout
from rpsg_ray.io.run_state import write_state
from rpsg_ray.methods import augpe
from rpsg_ray.methods.augpe import Vote, noisy_votes
from rpsg_ray.pipeline import generate
from rpsg_ray.privacy.ledger import augpe_ledger

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.e2e
def test_augpe_runs_and_accounts(
    ray_session: None, demo_corpus: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    drawn: list[float] = []
    monkeypatch.setattr(augpe, "noisy_votes", lambda c, sigma, *a: drawn.append(sigma) or noisy_votes(c, sigma, *a))
    out = tmp_path / "augpe"
    cfg = load_config(
        ROOT / "configs" / "demo.yaml",
        [
            f"input.path={demo_corpus}",
            f"output_dir={out}",
            "method=augpe",
            "augpe.samples=4",
            "augpe.iterations=2",
            "augpe.variations=2",
            "augpe.max_tokens=24",
            "augpe.epsilon=2",
            "augpe.engine.kind=transformers",
            "augpe.engine.dtype=float32",
        ],
    )
    release = generate(cfg).manifest["release"]
    assert release["llm_calls"] == 4 * (1 + 2 * 2)
    assert len(release["phases"]["iterations"]) == 2
    check_run_contract(out, "augpe")
    published = pq.read_table(out / "synthetic.parquet")
    assert sorted(published.column("label").to_pylist()) == ["negative"] * 2 + ["positive"] * 2
    assert (out / "private" / "run.key").stat().st_size == 32
    ledger = json.loads((out / "ledger.json").read_text())
    assert ledger["method"] == "augpe" and ledger["epsilon"] == pytest.approx(2.0, rel=1e-6)
    assert drawn == [ledger["sigma"]] * 2  # each iteration's histogram is noised at the ledger's σ
    public = json.loads((out / "manifest.json").read_text())
    assert ledger["n_private_records"] is None is public["n_private_records"]  # add/remove: N stays private
    printed = subprocess.run(
        [
            sys.executable,
            "-m",
            "rpsg_ray.cli",
            "account",
            "--method",
            "augpe",
            "--sigma",
            str(ledger["sigma"]),
            "--delta",
            str(ledger["delta"]),
            "--iterations",
            "2",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    eps = float(printed.split("epsilon = ")[1].split()[0])
    assert eps == pytest.approx(ledger["epsilon"], rel=1e-4)

    # A run killed after its first iteration: its key, its state, the seed rows' parts and the first two
    # checkpoints (the initial samples, iteration 1). The resume votes once (iteration 2 only), with the
    # same keyed noise, and publishes exactly what the uninterrupted run published.
    killed = RunLayout(tmp_path / "killed")
    shutil.copytree(RunLayout(out).private, killed.private)
    for leftover in (killed.released, killed.lineage, killed.diagnostics, killed.checkpoints / "step-0002.parquet"):
        shutil.rmtree(leftover) if leftover.is_dir() else leftover.unlink()
    write_state(killed, json.loads(killed.state.read_text())["config_digest"], "running")
    drawn.clear()
    resumed = generate(cfg.model_copy(update={"output_dir": str(killed.root)}))
    assert resumed.manifest["resumed"] and drawn == [ledger["sigma"]]
    assert pq.read_table(killed.synthetic).equals(published)
    check_run_contract(killed.root, "augpe")


def test_vote_goes_to_the_nearest_sample_of_the_same_label() -> None:
    """Two positive and one negative private record; for two of them the nearest sample is of the wrong label."""
    population = {
        "embeddings": np.array([[1.0, 0.0], [0.0, 1.0], [0.7, 0.7]], dtype=np.float32),
        "labels": np.array(["positive", "positive", "negative"]),
    }
    vote = Vote(lambda: population)
    batch = {
        "embedding": np.array([[0.9, 0.1], [0.6, 0.8], [1.0, 0.0]], dtype=np.float32),
        "label": np.array(["positive", "positive", "negative"]),
    }
    # record 2 is nearest to sample 2 (negative) but votes for sample 1 (positive, its own label);
    # record 3 is nearest to sample 0 (positive) but may only vote for sample 2 (the only negative one)
    assert vote(batch)["hist"].tolist() == [[1, 1, 1]]


def test_released_vote_noise_is_the_ledgers_sigma() -> None:
    """The released histogram's noise has the ledger's σ (±20%; 20,000 counts), is keyed, and counts under the
    threshold after noise are released as 0."""
    cfg = load_config(None, ["augpe.epsilon=4", "privacy.public_records=2000", "augpe.iterations=10"])
    sigma = augpe_ledger(cfg, 2000).sigma
    counts = np.full(20_000, 50.0)
    released = noisy_votes(counts, sigma, 3, threshold=-np.inf)
    assert float(np.std(released - counts)) == pytest.approx(sigma, rel=0.2)
    assert np.array_equal(released, noisy_votes(counts, sigma, 3, threshold=-np.inf))
    assert not np.array_equal(released, noisy_votes(counts, sigma, 4, threshold=-np.inf))
    cut = noisy_votes(np.zeros(1000), sigma, 3, threshold=sigma)
    assert set(np.unique(cut[cut < sigma])) == {0.0}
