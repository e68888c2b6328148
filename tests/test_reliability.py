"""Reliability: a killed driver resumes without loss or double-spent privacy; a killed model actor is
restarted by Ray and every row still comes out exactly once. Uses the trivially fast engines of
configs/dataplane.yaml (plumbing under test, not model quality) with a simulated per-call latency."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import psutil
import pyarrow.parquet as pq
import pytest
from make_bad_inputs import CANARY

from rpsg_ray.config import load_config
from rpsg_ray.errors import ResumeError
from rpsg_ray.io.layout import RunLayout
from rpsg_ray.io.run_state import part_files, write_state
from rpsg_ray.pipeline import generate

ROOT = Path(__file__).resolve().parents[1]
ROWS = 1500
SLOW = ["stages.rewrite.engine.options.delay_s=0.25", "runtime.block_rows=64", "stages.rewrite.resources.batch_size=32"]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("rel") / "seeds.jsonl"
    lines = [
        json.dumps({"id": f"r{i}", "text": f"Review {i}: a sharp, funny film with a {CANARY} twist."})
        for i in range(ROWS)
    ]
    lines[5] = json.dumps({"id": "r5", "text": None})  # quarantined
    lines[9] = json.dumps({"id": "r8", "text": "A duplicate id for a fine film."})  # duplicate of r8
    path.write_text("\n".join(lines) + "\n")
    return path


def cli(corpus: Path, out: Path, *extra: str) -> list[str]:
    args = [
        sys.executable,
        "-m",
        "rpsg_ray.cli",
        "generate",
        "--config",
        str(ROOT / "configs" / "dataplane.yaml"),
        "--input",
        str(corpus),
        "--output",
        str(out),
    ]
    for item in [*SLOW, *extra]:
        args += ["--set", item]
    return args


def outputs(run: Path) -> tuple[dict[str, str], list[dict]]:
    layout = RunLayout(run)
    synthetic = {r["synthetic_id"]: r["text"] for r in pq.read_table(layout.synthetic).to_pylist()}
    return synthetic, pq.read_table(layout.lineage).to_pylist()


def with_key_of(clean: Path, out: Path) -> None:
    """Start `out` as an unfinished run of `clean`'s config with `clean`'s secret key and nothing committed:
    the run that follows draws exactly the noise and samples of the clean run, so outputs compare 1:1."""
    source, target = RunLayout(clean), RunLayout(out)
    target.parts.mkdir(parents=True)
    shutil.copy(source.key, target.key)
    write_state(target, json.loads(source.state.read_text())["config_digest"], "running")


def check_complete(run: Path) -> None:
    manifest = json.loads(RunLayout(run).private_manifest.read_text())
    assert manifest["accounting"]["balanced"]
    _, lineage = outputs(run)
    ids = [r["seed_id"] for r in lineage]
    assert len(ids) == ROWS and len(set(ids)) == ROWS - 1  # r8 twice: the copy is quarantined as a duplicate
    quarantined = {r["reason"] for r in lineage if r["status"] == "quarantined"}
    assert any("duplicate" in q for q in quarantined) and any("null" in q for q in quarantined)


@pytest.fixture(scope="module")
def clean_run(corpus: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("clean") / "run"
    done = subprocess.run(cli(corpus, out), capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    check_complete(out)
    assert CANARY not in done.stdout + done.stderr
    return out


@pytest.mark.e2e
def test_killed_driver_resumes_exactly_once(corpus: Path, clean_run: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    with_key_of(clean_run, out)
    proc = subprocess.Popen(cli(corpus, out), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
    deadline = time.time() + 300
    while len(part_files(RunLayout(out))) < 3 and time.time() < deadline and proc.poll() is None:
        time.sleep(0.2)
    assert proc.poll() is None, "run finished before it could be killed"
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert not RunLayout(out).manifest.exists()
    committed = len(part_files(RunLayout(out)))

    # a changed config is refused, the same config resumes
    changed = subprocess.run(cli(corpus, out, "privacy.epsilon=2"), capture_output=True, text=True, timeout=120)
    assert changed.returncode == 2 and "resume with the same config" in changed.stderr
    resumed = subprocess.run(cli(corpus, out), capture_output=True, text=True, timeout=600)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    check_complete(out)
    manifest = json.loads(RunLayout(out).private_manifest.read_text())
    assert manifest["resumed"] and committed >= 3

    # same rows, same texts, same privacy spend as a run that was never interrupted
    assert outputs(out)[0] == outputs(clean_run)[0]
    ledger, clean_ledger = (json.loads(RunLayout(p).ledger.read_text()) for p in (out, clean_run))
    assert (ledger["epsilon"], ledger["delta"], ledger["sigma"]) == (
        clean_ledger["epsilon"],
        clean_ledger["delta"],
        clean_ledger["sigma"],
    )
    with pytest.raises(ResumeError, match="complete run"):
        generate(load_config(ROOT / "configs" / "dataplane.yaml", [f"input.path={corpus}", f"output_dir={out}", *SLOW]))


def _kill_one_actor(name: str, stop: threading.Event, killed: list[int]) -> None:
    while not stop.is_set() and not killed:
        for p in psutil.process_iter(["pid", "cmdline"]):
            title = " ".join(p.info["cmdline"] or [])
            if f"MapBatches({name})" in title and "MapWorker" in title:
                time.sleep(1.0)  # let it take some batches first
                os.kill(p.info["pid"], signal.SIGKILL)
                killed.append(p.info["pid"])
                return
        time.sleep(0.2)


@pytest.mark.e2e
def test_killed_model_actor_is_restarted(ray_session: None, corpus: Path, clean_run: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    with_key_of(clean_run, out)
    cfg = load_config(ROOT / "configs" / "dataplane.yaml", [f"input.path={corpus}", f"output_dir={out}", *SLOW])
    stop, killed = threading.Event(), []
    killer = threading.Thread(target=_kill_one_actor, args=("Rewrite", stop, killed), daemon=True)
    killer.start()
    try:
        generate(cfg)
    finally:
        stop.set()
    assert killed, "no Rewrite actor was found to kill"
    assert not psutil.pid_exists(killed[0]) or psutil.Process(killed[0]).status() == psutil.STATUS_ZOMBIE
    check_complete(out)
    assert outputs(out)[0] == outputs(clean_run)[0]
    assert_no_canary_in_logs()


def assert_no_canary_in_logs() -> None:
    """Every driver and worker log of this Ray session is free of the private-text canary."""
    import ray

    logs = Path(ray._private.worker._global_node.get_session_dir_path()) / "logs"
    files = [p for p in logs.rglob("*") if p.is_file()]
    assert files
    leaking = [p.name for p in files if CANARY.encode() in p.read_bytes()]
    assert not leaking
