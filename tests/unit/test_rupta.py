"""RUPTA's loop: privacy is judged first, then utility; a row stops when both hold or after R rounds, and
records how many rounds it took. The generator here is a scripted test double (plumbing under test); the
embedder and classifier are the trivially fast stand-ins."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa

from rpsg_ray.config import Domain, Engine, RuptaConfig
from rpsg_ray.engines.base import Chat, Completion, Sampling
from rpsg_ray.methods.rupta import LOST_LABEL, PII, TRACEABLE, RuptaRewrite
from rpsg_ray.privacy.keys import new_key
from rpsg_ray.rows import ROW_SCHEMA

ROOT = Path(__file__).resolve().parents[2]
SOURCE = "The acting is wonderful and the story is good, I loved it"


class Scripted:
    """Answers round r of row `id` with SCRIPT[id][r - 1] and records the prompts it saw."""

    def __init__(self, script: dict[str, list[str]]) -> None:
        self.script, self.prompts = script, []

    def generate(self, chats: list[Chat], sampling: Sampling, seeds: list[int]) -> list[Completion]:
        out = []
        for chat in chats:
            self.prompts.append(chat[-1]["content"])
            row = next(i for i in self.script if f"[{i}]" in chat[-1]["content"])
            attempt = chat[-1]["content"].count("Your previous attempt")
            out.append(Completion(texts=[self.script[row][min(attempt, len(self.script[row]) - 1)]], tokens=5))
        return out


def run(script: dict[str, list[str]], labels: dict[str, str], rounds: int = 3) -> tuple[pa.Table, Scripted]:
    cfg = RuptaConfig(
        engine=Engine(kind="echo"), embedder="hashing", classifier="keywords", rounds=rounds, max_source_similarity=0.8
    )
    stage = RuptaRewrite(cfg, Domain(), new_key())
    stage.generator = Scripted(script)
    rows = [
        {"id": i, "text": f"[{i}] {SOURCE}", "label": labels[i], "source": "t", "pos": n, "status": "ok"}
        for n, i in enumerate(script)
    ]
    table = pa.Table.from_pylist(rows, schema=ROW_SCHEMA)
    return stage(table.append_column("prompt_text", table.column("text"))), stage.generator


def test_rows_stop_when_both_evaluators_are_satisfied() -> None:
    fresh = "A fine cast in a funny, great picture with beautiful music throughout"
    out, gen = run(
        {
            "a": [fresh],  # private and positive in round 1
            "b": [f"[b] {SOURCE}", fresh],  # a copy first: traceable, then fine
            "c": ["Call me on 555 123 4567, a great film", fresh],  # PII first
            "d": [f"[d] {SOURCE}"],  # never changes: R rounds, still traceable
            "e": ["A dull, boring mess of a film", fresh],  # private, but the positive opinion is lost first
        },
        {"a": "positive", "b": "positive", "c": "positive", "d": "positive", "e": "positive"},
    )
    got = {r["id"]: r for r in out.to_pylist()}
    assert {i: got[i]["rupta_rounds"] for i in got} == {"a": 1, "b": 2, "c": 2, "d": 3, "e": 2}
    assert all(got[i]["rupta_private"] and got[i]["rupta_useful"] for i in "abce")
    assert not got["d"]["rupta_private"] and got["d"]["rupta_text"].endswith(SOURCE)
    assert all(got[i]["status"] == "ok" for i in got)
    feedback = [p.split("Problem: ")[1] for p in gen.prompts if "Problem: " in p]
    assert TRACEABLE in feedback and PII in feedback and LOST_LABEL.format(label="positive") in feedback
    assert sum(got[i]["tokens_rupta"] for i in got) == 5 * (1 + 2 + 2 + 3 + 2)


def test_one_round_means_no_feedback() -> None:
    out, gen = run({"a": [f"[a] {SOURCE}"]}, {"a": "positive"}, rounds=1)
    assert out.column("rupta_rounds").to_pylist() == [1] and len(gen.prompts) == 1
