"""Reliability: a driver killed mid-stream, or crashed in the inventory, index or finalize phase, resumes
without loss or double-spent privacy; leftover temp files are ignored; a killed model actor is restarted
by Ray and every row still comes out exactly once. Uses the trivially fast engines of
configs/dataplane.yaml (plumbing under test, not model quality) with a simulated per-call latency.

Run-directory layout: committed parts and private outputs are found by name anywhere under the run
directory (`committed_parts`, `output`), so these tests do not depend on where the layout puts them."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import psutil
import pyarrow.parquet as pq
import pytest
from make_bad_inputs import CANARY

from rpsg_ray import manifest as manifest_module
from rpsg_ray import pipeline
from rpsg_ray.cli import main
from rpsg_ray.config import load_config
from rpsg_ray.errors import ResumeError
from rpsg_ray.io import corpus as corpus_module
from rpsg_ray.io.layout import RunLayout
from rpsg_ray.io.run_state import read_state, write_state
from rpsg_ray.methods import rpsg
from rpsg_ray.pipeline import generate

ROOT = Path(__file__).resolve().parents[2]
ROWS = 1500
SLOW = ["rpsg.rewrite.engine.options.delay_s=0.25", "runtime.block_rows=64", "rpsg.rewrite.resources.batch_size=32"]


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


def committed_parts(run: Path) -> list[Path]:
    return sorted(run.rglob("part-*.parquet"))


def output(run: Path, name: str) -> Path:
    """The run's output file `name`, wherever the layout puts it (public files at the top, private ones deeper)."""
    (path,) = run.rglob(name)
    return path


def outputs(run: Path) -> tuple[dict[str, str], list[dict]]:
    synthetic = {r["synthetic_id"]: r["text"] for r in pq.read_table(output(run, "synthetic.parquet")).to_pylist()}
    return synthetic, pq.read_table(output(run, "lineage.parquet")).to_pylist()


def texts_by_seed(run: Path) -> dict[str, str]:
    """seed id -> synthetic text: comparable across runs whose configs (and so synthetic ids) differ."""
    synthetic, lineage = outputs(run)
    return {r["seed_id"]: synthetic[r["synthetic_id"]] for r in lineage if r["synthetic_id"] is not None}


def with_key_of(clean: Path, out: Path, digest: str | None = None) -> None:
    """Start `out` as an unfinished run (of `clean`'s config, or the one with `digest`) holding `clean`'s secret key
    and nothing committed: what follows draws exactly the clean run's noise and samples, so outputs compare 1:1."""
    source, target = RunLayout(clean), RunLayout(out)
    target.parts.mkdir(parents=True)
    shutil.copy(source.key, target.key)
    write_state(target, digest or json.loads(source.state.read_text())["config_digest"], "running")


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
    while len(committed_parts(out)) < 3 and time.time() < deadline and proc.poll() is None:
        time.sleep(0.2)
    assert proc.poll() is None, "run finished before it could be killed"
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert not (out / "manifest.json").exists()
    committed = len(committed_parts(out))

    # a changed config is refused, the same config resumes
    changed = subprocess.run(cli(corpus, out, "rpsg.epsilon=2"), capture_output=True, text=True, timeout=120)
    assert changed.returncode == 2 and "resume with the same config" in changed.stderr
    resumed = subprocess.run(cli(corpus, out), capture_output=True, text=True, timeout=600)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    check_complete(out)
    manifest = json.loads(RunLayout(out).private_manifest.read_text())
    assert manifest["resumed"] and committed >= 3

    # same rows, same texts, same privacy spend as a run that was never interrupted
    assert outputs(out)[0] == outputs(clean_run)[0]
    ledger, clean_ledger = (json.loads((p / "ledger.json").read_text()) for p in (out, clean_run))
    assert (ledger["epsilon"], ledger["delta"], ledger["sigma"]) == (
        clean_ledger["epsilon"],
        clean_ledger["delta"],
        clean_ledger["sigma"],
    )
    with pytest.raises(ResumeError, match="complete run"):
        generate(load_config(ROOT / "configs" / "dataplane.yaml", [f"input.path={corpus}", f"output_dir={out}", *SLOW]))


def session_worker_pids(stage: str) -> list[psutil.Process]:
    """Live actor processes of `stage`'s pool in this Ray session: the GCS actor table of this driver's job
    gives the pids, and each is confirmed to be a child of this session's raylet whose title names the stage,
    so a process of another Ray session on the machine is never picked."""
    import ray
    from ray._private import ray_constants

    job = ray.get_runtime_context().get_job_id()
    node = ray._private.worker._global_node
    raylets = {p.process.pid for p in node.all_processes[ray_constants.PROCESS_TYPE_RAYLET]}
    found = []
    for actor in ray._private.state.actors().values():
        if actor["State"] != "ALIVE" or actor["JobID"] != job or "MapWorker" not in actor["ActorClassName"]:
            continue
        try:
            proc = psutil.Process(actor["Pid"])
            title, parents = " ".join(proc.cmdline()), {p.pid for p in proc.parents()}
        except psutil.Error:
            continue
        if f"MapBatches({stage})" in title and raylets & parents:
            found.append(proc)
    return found


def _kill_one_actor(stage: str, stop: threading.Event, killed: list[int]) -> None:
    while not stop.is_set() and not killed:
        for proc in session_worker_pids(stage):
            time.sleep(1.0)  # let it take some batches first
            try:
                proc.kill()  # psutil refuses if the pid was reused meanwhile (checks the start time)
            except psutil.NoSuchProcess:
                continue
            killed.append(proc.pid)
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


class Crash(RuntimeError):
    """Stands in for a kill at a phase boundary: the run directory is left as a kill there leaves it."""


def crash_in(
    monkeypatch: pytest.MonkeyPatch, module: ModuleType, name: str, after: Callable[[], None] | None = None
) -> None:
    """Make `module.<name>` crash: before its work, or (with `after`) once its work is done."""
    real = getattr(module, name)

    def crashing(*args: object, **kwargs: object) -> object:
        if after is not None:
            real(*args, **kwargs)
            after()
        raise Crash(name)

    monkeypatch.setattr(module, name, crashing)


@pytest.mark.e2e
def test_stream_in_windows_resumes_and_matches_one_execution(
    ray_session: None, corpus: Path, clean_run: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The clean run's rows in three files, streamed one file per Ray Data execution (stream_window_rows),
    with r8's duplicate moved to the last file. The first attempt crashes after the first window; the resumed
    one runs three windows that read each file once, leaves r8's duplicate quarantined although r8 itself was
    committed in the first attempt, and ends with every row out once and the clean run's texts (same key)."""
    lines = corpus.read_text().splitlines()
    files = {"a": lines[:9] + lines[10:500], "b": lines[500:1000], "c": [*lines[1000:], lines[9]]}
    folder = tmp_path / "seeds"
    folder.mkdir()
    for name, part in files.items():
        (folder / f"{name}.jsonl").write_text("\n".join(part) + "\n")
    out = tmp_path / "run"
    cfg = load_config(
        ROOT / "configs" / "dataplane.yaml",
        [f"input.path={folder}", f"output_dir={out}", f"runtime.stream_window_rows={ROWS // 3}"],
    )
    with_key_of(clean_run, out, cfg.digest())
    with monkeypatch.context() as patch:
        crash_in(patch, pipeline, "stream", after=lambda: None)  # the first window commits, then the run dies
        with pytest.raises(Crash):
            generate(cfg)
    assert committed_parts(out)

    windows: list[list[str]] = []
    real_marked = corpus_module.PrivateCorpus.marked
    monkeypatch.setattr(
        corpus_module.PrivateCorpus,
        "marked",
        lambda self, done, units: windows.append([Path(u.path).name for u in units]) or real_marked(self, done, units),
    )
    generate(cfg)
    assert windows == [["a.jsonl"], ["b.jsonl"], ["c.jsonl"]]
    check_complete(out)
    assert texts_by_seed(out) == texts_by_seed(clean_run)


@pytest.mark.e2e
def test_crash_in_each_phase_resumes(
    ray_session: None, corpus: Path, clean_run: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One run directory crashes in the inventory, then the index, then after finalize has half-written the
    outputs (with a killed writer's temp file left among the parts) but before the manifest marks the run
    complete; the next attempt completes it with the same rows, texts and privacy spend as a run never
    interrupted. (Finalize runs in a Ray worker, so the last crash is made in the driver right after it.)"""
    out = tmp_path / "run"
    cfg = load_config(ROOT / "configs" / "dataplane.yaml", [f"input.path={corpus}", f"output_dir={out}"])
    with_key_of(clean_run, out, cfg.digest())

    def half_written_outputs() -> None:
        synthetic = output(out, "synthetic.parquet")
        synthetic.write_bytes(synthetic.read_bytes()[: synthetic.stat().st_size // 2])
        parts = committed_parts(out)
        shutil.copy(parts[0], parts[0].with_name(".tmp-0123456789abcdef.parquet"))  # rows a rename never committed

    phases = ((corpus_module, "take_inventory", None), (rpsg, "build_index", None))
    for module, phase, after in (*phases, (manifest_module, "build_manifest", half_written_outputs)):
        with monkeypatch.context() as patch:
            crash_in(patch, module, phase, after)
            with pytest.raises(Crash):
                generate(cfg)
        assert read_state(RunLayout(out))["status"] == "running" and not RunLayout(out).manifest.exists(), phase
    assert committed_parts(out)  # the stream had finished before finalize crashed

    result = generate(cfg)
    assert result.manifest["resumed"]
    check_complete(out)
    assert not list(out.rglob(".tmp-*")), "leftover temp files survived the resume"
    assert texts_by_seed(out) == texts_by_seed(clean_run)  # echo engines: batch sizes do not change texts
    ledger, clean_ledger = (json.loads((p / "ledger.json").read_text()) for p in (out, clean_run))
    assert (ledger["epsilon"], ledger["sigma"]) == (clean_ledger["epsilon"], clean_ledger["sigma"])


def test_resume_and_non_empty_directory_errors(
    corpus: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Refused before any Ray work, one line each; a directory that holds no run is never deleted."""
    base = ["generate", "--config", str(ROOT / "configs" / "dataplane.yaml"), "--input", str(corpus)]
    assert main([*base, "--output", str(tmp_path / "new"), "--resume"]) == 2
    assert "nothing to resume (no unfinished run here)" in capsys.readouterr().err
    assert not (tmp_path / "new").exists()
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "notes.txt").write_text("a user's file")
    for extra in ([], ["--overwrite"]):
        assert main([*base, "--output", str(busy), *extra]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and "directory is not empty and holds no rpsg run" in err
    assert (busy / "notes.txt").read_text() == "a user's file"
