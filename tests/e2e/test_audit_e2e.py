"""`rpsg audit` end to end on a small leaky run built from real text: the report sees the leak, the canaries are
counted, the controls pass, and no member text or secret reaches the report files or the logs."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from rpsg_ray.audit import canaries
from rpsg_ray.audit.controls import perturb
from rpsg_ray.audit.gate import gate_failures
from rpsg_ray.audit.lm_attacks import LmBudget
from rpsg_ray.audit.records import read_records
from rpsg_ray.audit.results import AuditSettings
from rpsg_ray.audit.runner import run_audit
from rpsg_ray.audit.split import split_file
from rpsg_ray.io.layout import RunLayout
from rpsg_ray.io.tables import Records

EMBEDDER = "all-minilm-l6-v2"
ROOT = Path(__file__).resolve().parents[2]


def _leaky_run(tmp: Path, planted: Path) -> Path:
    """A stand-in run: its 'synthetic' rows are the used members lightly perturbed, plus the canary copies as
    they are (a verbatim leak); a quarter of the members are marked not sampled."""
    seeds = read_records(planted)
    used = [i for n, i in enumerate(seeds.ids) if n % 4 or i.startswith("canary-")]
    texts = dict(zip(seeds.ids, seeds.texts, strict=True))
    synthetic = perturb([texts[i] for i in used if not i.startswith("canary-")], 1)
    synthetic += [texts[i] for i in used if i.startswith("canary-")]
    layout = RunLayout(tmp / "run")
    layout.private.mkdir(parents=True)
    ids = [f"s{n:04d}" for n in range(len(synthetic))]
    table = pa.table({"synthetic_id": ids, "text": synthetic, "label": ["positive"] * len(ids)})
    pq.write_table(table, layout.synthetic)
    layout.manifest.write_text(json.dumps({"method": "rpsg", "synthetic_rows": len(ids)}))
    layout.ledger.write_text(json.dumps({"epsilon": 4.0}))
    status = ["ok" if i in set(used) else "not_sampled" for i in seeds.ids]
    pq.write_table(pa.table({"seed_id": seeds.ids, "status": status}), layout.lineage)
    return layout.root


@pytest.mark.e2e
def test_audit_sees_a_leaky_run_and_writes_no_private_text(
    demo_corpus: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # One fixed split: the negative control is a 95% interval, so over fresh secret splits it would miss 0.5
    # one time in twenty and the test would be flaky by design.
    split = split_file(demo_corpus, 0.5, tmp_path / "split", rng=np.random.default_rng(11))
    planted, listing, placed = canaries.plant(split.members, tmp_path / "canaries", seed=5, counts={1: 4, 2: 2})
    run = _leaky_run(tmp_path, planted)
    settings = AuditSettings(
        bootstrap=200,
        canaries=listing,
        threads=2,
        embedder=EMBEDDER,
        lm_budget=LmBudget(steps=40),
        canary_alternatives=49,
    )
    summary = run_audit(run, split.members, split.non_members, tmp_path / "audit", settings)
    metrics = json.loads((tmp_path / "audit" / "metrics.json").read_text())

    attacks = metrics["attacks"]
    assert attacks["nearest_similarity"]["run"]["auc"]["value"] > 0.9  # the leak is seen
    assert attacks["nearest_similarity"]["controls"] == {"positive_seen": True, "negative_clean": True}
    assert attacks["nearest_similarity"]["family_wise_p"]["auc"] <= 0.01  # survives the correction for many attacks
    assert "family-wise p = 0.00" in metrics["conclusion"] and "distinguishable from chance" in metrics["conclusion"]
    assert attacks["lm_loss"]["positive_control"]["auc"]["value"] > 0.6
    assert {"column:synthetic_id", "mentions:manifest.json", "mentions:ledger.json"} <= set(attacks)
    hosts = {h for c in placed for h in c.host_ids}  # a host's copy carries a canary: not a plain member
    assert metrics["n_members"] == sum(1 for i in read_records(split.members).ids if i in _used(run) - hosts)
    leaked = {c["canary_id"]: c for c in metrics["canaries"]}
    assert all(leaked[c.canary_id]["verbatim_rows"] == c.repeats for c in placed)
    assert any("verbatim" in f for f in gate_failures(metrics))  # `--gate` stops this release

    logs = capsys.readouterr()
    private = read_records(split.members).texts + read_records(split.non_members).texts
    secrets = [c.secret for c in placed]
    for name in ("metrics.json", "report.html", "report.md", "scores.parquet"):
        written = (tmp_path / "audit" / name).read_bytes().decode("utf-8", "replace")
        assert not [t for t in private + secrets if len(t) > 12 and t in written], name
    for stream in (logs.out + summary, logs.err):
        assert not [t for t in private + secrets if len(t) > 12 and t in stream]


def _used(run: Path) -> set[str]:
    table = pq.read_table(RunLayout(run).lineage)
    return {i for i, s in zip(table["seed_id"].to_pylist(), table["status"].to_pylist(), strict=True) if s == "ok"}


def _run_dir(root: Path, planted: Path, synthetic: list[str], ledger: dict) -> Path:
    """A run directory over every planted record (all seeds used) publishing `synthetic`."""
    seeds = read_records(planted)
    layout = RunLayout(root)
    layout.private.mkdir(parents=True)
    ids = [f"s{n:04d}" for n in range(len(synthetic))]
    pq.write_table(
        pa.table({"synthetic_id": ids, "text": synthetic, "label": ["positive"] * len(ids)}), layout.synthetic
    )
    layout.manifest.write_text(json.dumps({"method": ledger["method"], "synthetic_rows": len(ids)}))
    layout.ledger.write_text(json.dumps(ledger))
    pq.write_table(pa.table({"seed_id": seeds.ids, "status": ["ok"] * len(seeds)}), layout.lineage)
    return layout.root


@pytest.mark.e2e
def test_the_gate_passes_an_honest_run_and_its_empirical_epsilon_stays_under_the_claim(
    demo_corpus: Path, tmp_path: Path
) -> None:
    """The leaky run of the test above is stopped by the gate; an honest one, publishing only text from neither
    set (the held-back control records, lightly perturbed), passes it with audit canaries planted."""
    split = split_file(demo_corpus, 0.4, tmp_path / "split", control=0.2, rng=np.random.default_rng(11))
    planted, listing, placed = canaries.plant(split.members, tmp_path / "canaries", seed=5, counts={1: 4}, one_run=40)
    claim = {
        "method": "augpe",
        "epsilon": 4.0,
        "delta": 1e-5,
        "scope_summary": "the whole output",
        "dataset_level": True,
    }
    settings = AuditSettings(bootstrap=50, canaries=listing, threads=2, embedder=EMBEDDER, lm_budget=LmBudget(steps=10))
    settings = dataclasses.replace(settings, canary_alternatives=19, audit_canary_alternatives=9)
    assert split.control is not None
    public = perturb(read_records(split.control).texts, 3)
    honest = _run_dir(tmp_path / "honest", planted, public, claim)
    run_audit(honest, split.members, split.non_members, tmp_path / "honest-audit", settings)
    metrics = json.loads((tmp_path / "honest-audit" / "metrics.json").read_text())
    assert gate_failures(metrics) == [] and metrics["one_run"]["epsilon_empirical"] <= 4.0
    assert metrics["one_run"]["canaries"] == 40
    # audit canaries are ranked among fewer alternatives (their exposure only breaks ties), planted ones among all
    kinds = {(c["kind"] == "audit", c["alternatives"]) for c in metrics["canaries"]}
    assert kinds == {(True, 9), (False, 19)}

    # The planted leak: the same release plus 5% of the members copied verbatim. The gate stops it even when
    # no canary happens to be among the copies.
    members = read_records(split.members)
    hosts = {h for c in placed for h in c.host_ids}  # the audit leaves canary hosts out of the members
    copied = [t for i, t in zip(members.ids, members.texts, strict=True) if i not in hosts and "canary" not in i]
    copied = copied[:: len(copied) // max(1, round(0.05 * len(copied)))][: round(0.05 * len(copied))]
    leaky = _run_dir(tmp_path / "leaky", planted, public + copied, claim)
    run_audit(leaky, split.members, split.non_members, tmp_path / "leaky-audit", settings)
    metrics = json.loads((tmp_path / "leaky-audit" / "metrics.json").read_text())
    assert metrics["verbatim"]["members_copied"] >= len(copied) > 0
    assert any("members appear verbatim" in f for f in gate_failures(metrics))


@pytest.mark.e2e
def test_rerun_attack_runs_the_method_on_every_candidate(ray_session: None, demo_corpus: Path, tmp_path: Path) -> None:
    """A real per-record run on the stand-in engines (configs/dataplane.yaml: the echo generator writes a
    thinned copy of its prompt, so each output keeps words of its own seed). The re-run hands each candidate its
    own shadow output (not another's), the report carries the re-run attacks and the paraphrase control, the
    non-members are the stated subsample, and no private text reaches the audit's files. The attack's power is
    the unit test's (tests/unit/test_audit.py) and the real models' (docs/audit.md)."""
    from rpsg_ray.config import load_config
    from rpsg_ray.pipeline import generate
    from rpsg_ray.shadow import shadow_outputs

    split = split_file(demo_corpus, 0.5, tmp_path / "split", control=0.2, rng=np.random.default_rng(3))
    members = tmp_path / "members.parquet"
    pq.write_table(pq.read_table(split.members).slice(0, 16), members)
    cfg = load_config(ROOT / "configs" / "dataplane.yaml", [f"input.path={members}", f"output_dir={tmp_path / 'run'}"])
    run = generate(cfg).run_dir
    seen: list[tuple[list[str], list[str | None]]] = []

    def spy(run_dir: Path, candidates: Records, *, full_strength: bool = False) -> list[str | None]:
        made = shadow_outputs(run_dir, candidates, full_strength=full_strength)
        seen.append((candidates.texts, made))
        return made

    settings = AuditSettings(
        bootstrap=50,
        threads=2,
        embedder=EMBEDDER,
        lm_budget=LmBudget(steps=10),
        negative_control=split.control,
        rerun_non_members=16,
        rerun_control=8,
    )
    run_audit(run, members, split.non_members, tmp_path / "audit", settings, spy)
    metrics = json.loads((tmp_path / "audit" / "metrics.json").read_text())
    (texts, made), (again, _) = seen
    own = [_overlap(t, m) for t, m in zip(texts, made, strict=True) if m]
    other = [_overlap(t, m) for t, m in zip(texts[1:] + texts[:1], made, strict=True) if m]
    assert len(own) > 16 and np.mean(own) > 2 * np.mean(other)  # each shadow came from its own candidate
    assert len(again) == 8 and set(again) <= set(texts[: metrics["n_members"]])  # 8 members re-ran, members only
    rerun = {"ran": True, "non_members": 16, "non_members_given": 150, "shadows": len(own), "control_members": 8}
    assert metrics["rerun"] == rerun
    attacks = metrics["attacks"]
    assert {"rerun_similarity", "rerun_tfidf"} <= set(attacks) and metrics["n_non_members"] == 16
    assert "paraphrase_control" not in attacks["rerun_similarity"]  # it would find its own outputs there
    assert "paraphrase_control" in attacks["nearest_similarity"]
    assert "rerun_control" in attacks["rerun_tfidf"] and "rerun_control" not in attacks["nearest_similarity"]
    assert metrics["settings"]["negative_control"] == str(split.control)  # held back from the same corpus
    private = read_records(split.members).texts + read_records(split.non_members).texts
    for name in ("metrics.json", "report.html", "report.md", "scores.parquet"):
        written = (tmp_path / "audit" / name).read_bytes().decode("utf-8", "replace")
        assert not [t for t in private if len(t) > 12 and t in written], name


def _overlap(a: str, b: str) -> int:
    return len(set(a.lower().split()) & set(b.lower().split()))
