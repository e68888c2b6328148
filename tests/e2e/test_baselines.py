"""Every baseline end to end through the one run (`pipeline.generate`) on the real packaged models: the run
contract, the ledger each prints, and a resume after a kill."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from conftest import check_run_contract

from rpsg_ray.config import load_config
from rpsg_ray.io.layout import RunLayout
from rpsg_ray.io.run_state import write_state
from rpsg_ray.methods import augpe, dpsgd
from rpsg_ray.methods.augpe import noisy_votes
from rpsg_ray.pipeline import generate

ROOT = Path(__file__).resolve().parents[2]


def killed_copy(run: RunLayout, root: Path) -> RunLayout:
    """A run as a kill during its release leaves it: its key, state (running), seed parts and checkpoints, no
    released rows and no outputs."""
    killed = RunLayout(root)
    shutil.copytree(run.private, killed.private)
    for leftover in (killed.released, killed.lineage, killed.diagnostics, killed.quarantine, killed.private_manifest):
        shutil.rmtree(leftover) if leftover.is_dir() else leftover.unlink()
    write_state(killed, json.loads(killed.state.read_text())["config_digest"], "running")
    return killed


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
    killed = killed_copy(RunLayout(out), tmp_path / "killed")
    (killed.checkpoints / "step-0002.parquet").unlink()
    drawn.clear()
    resumed = generate(cfg.model_copy(update={"output_dir": str(killed.root)}))
    assert resumed.manifest["resumed"] and drawn == [ledger["sigma"]]
    assert pq.read_table(killed.synthetic).equals(published)
    check_run_contract(killed.root, "augpe")

    # Killed during the release, every round saved: the resume neither generates nor votes again.
    done = killed_copy(RunLayout(out), tmp_path / "released")
    drawn.clear()
    monkeypatch.setattr(augpe, "GeneratorPool", lambda *a: pytest.fail("a finished evolution started the generator"))
    assert generate(cfg.model_copy(update={"output_dir": str(done.root)})).manifest["resumed"] and drawn == []
    assert pq.read_table(done.synthetic).equals(published)


@pytest.mark.e2e
def test_dpsgd_run_directory(
    ray_session: None, demo_corpus: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "dpsgd"
    cfg = load_config(
        ROOT / "configs" / "demo.yaml",
        [
            f"input.path={demo_corpus}",
            f"output_dir={out}",
            "method=dpsgd",
            "dpsgd.epsilon=4",
            "dpsgd.steps=2",
            "dpsgd.expected_batch_size=8",
            "dpsgd.samples=4",
            "dpsgd.max_tokens=16",
            "dpsgd.max_length=48",
        ],
    )
    manifest = generate(cfg).manifest["release"]
    check_run_contract(out, "dpsgd")
    published = pq.read_table(out / "synthetic.parquet")
    assert published.num_rows == 4
    assert sorted(published.column("label").to_pylist()) == ["negative"] * 2 + ["positive"] * 2
    ledger = json.loads((out / "ledger.json").read_text())
    assert ledger["method"] == "dpsgd" and ledger["composition"]["count"] == 2 == manifest["training"]["steps"]
    assert (out / "private" / "checkpoints" / "model" / "config.json").exists()

    # Killed after training: the resume samples from the saved model and never trains again.
    killed = killed_copy(RunLayout(out), tmp_path / "killed")
    monkeypatch.setattr(dpsgd, "_train", None)  # a second training would fail on this
    resumed = generate(cfg.model_copy(update={"output_dir": str(killed.root)}))
    assert resumed.manifest["resumed"] and resumed.manifest["release"]["training"] == manifest["training"]
    assert pq.read_table(killed.synthetic).equals(published)
    check_run_contract(killed.root, "dpsgd")


@pytest.mark.e2e
def test_rupta_runs_on_the_streaming_plan(ray_session: None, demo_corpus: Path, tmp_path: Path) -> None:
    """`--method rupta` through the same plan and run-directory writer as RPSG (stand-in engines: plumbing)."""
    out = tmp_path / "rupta"
    cfg = load_config(
        ROOT / "configs" / "dataplane.yaml",
        [
            f"input.path={demo_corpus}",
            f"output_dir={out}",
            "method=rupta",
            "input.seeds=40",
            "rupta.engine.kind=echo",
            "rupta.embedder=hashing",
            "rupta.classifier=keywords",
            "rupta.rounds=2",
        ],
    )
    result = generate(cfg)
    layout = RunLayout(out)
    assert result.manifest["method"] == "rupta" and result.manifest["accounting"]["balanced"]
    check_run_contract(out, "rupta")
    rounds = pq.read_table(layout.diagnostics).column("rupta_rounds").to_pylist()
    assert len(rounds) == result.manifest["counts"]["kept"] > 0 and set(rounds) <= {1, 2}
    ledger = json.loads(layout.ledger.read_text())
    assert ledger["method"] == "rupta" and ledger["epsilon"] is None and "NO formal" in result.ledger.summary()
    assert "rupta" in result.manifest["stage_busy_seconds"] and not result.manifest["thresholds"]
