"""The release gate and the audit canaries it rests on: coins nobody can read off the command line, excluded
canaries never planted, and a gate that stops on a verbatim canary or a broken whole-output claim only."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from rpsg_ray.audit.canaries import load_canaries, plant
from rpsg_ray.audit.gate import gate_failures


def test_audit_canaries_enter_by_secret_coins(tmp_path: Path) -> None:
    source = tmp_path / "members.parquet"
    pq.write_table(
        pa.table({"id": [f"r{i}" for i in range(300)], "text": [f"Record {i}." for i in range(300)]}), source
    )
    planted, listing, _ = plant(source, tmp_path / "a", seed=5, counts={1: 2}, one_run=60)
    drawn = [c for c in load_canaries(listing) if c.kind == "audit"]
    assert len(drawn) == 60 and 15 <= sum(c.included for c in drawn) <= 45  # fair coins
    written = "\n".join(pq.read_table(planted)["text"].to_pylist())
    assert all((c.sentence in written) == c.included for c in drawn)  # out means never planted
    _, again, _ = plant(source, tmp_path / "b", seed=5, counts={1: 2}, one_run=60)
    names = {c.fields["name"] for c in drawn}
    assert not names & {c.fields["name"] for c in load_canaries(again) if c.kind == "audit"}  # not from --seed
    person = [c.fields["name"] for c in load_canaries(listing) if c.kind == "person"]
    assert person == [c.fields["name"] for c in load_canaries(again) if c.kind == "person"]  # those still are


def metrics(verbatim: list[int], included: list[bool], empirical: float, claim: dict) -> dict:
    canaries = [
        {"canary_id": f"c{i}", "verbatim_rows": v, "included": inc}
        for i, (v, inc) in enumerate(zip(verbatim, included, strict=True))
    ]
    return json.loads(json.dumps({"canaries": canaries, "one_run": {"epsilon_empirical": empirical}, "claim": claim}))


def test_gate_stops_on_a_verbatim_canary_or_a_broken_whole_output_claim() -> None:
    whole = {"epsilon": 1.0, "dataset_level": True}
    assert gate_failures(metrics([0, 0], [True, False], 0.4, whole)) == []  # honest
    assert gate_failures(metrics([0, 2], [True, True], 0.4, whole))  # a planted value written out
    assert gate_failures(metrics([0, 0], [True, False], 1.6, whole))  # the claim is broken
    component = {"epsilon": 1.0, "dataset_level": False}
    assert gate_failures(metrics([0, 0], [True, False], 1.6, component)) == []  # RPSG: measured, not compared


def test_gate_stops_when_members_are_written_out_whole_more_often_than_non_members() -> None:
    honest = metrics([0], [True], 0.1, {"epsilon": None})

    def copied(members: int, non_members: int) -> dict:
        counts = {"members_copied": members, "members": 200, "non_members_copied": non_members, "non_members": 400}
        return {**honest, "verbatim": counts}

    assert gate_failures(copied(0, 0)) == []
    assert gate_failures(copied(2, 4)) == []  # the same rate as records that never entered: corpus duplicates
    assert gate_failures(copied(10, 0)) == ["10 of 200 members appear verbatim in the output (0 of 400 non-members)"]
