"""Each stage on real packaged models and tiny batches, called directly (no Ray)."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest
from faker import Faker

from rpsg_ray.config import (
    AbstractStage,
    Domain,
    Engine,
    LabelStage,
    NllFilterStage,
    RedactStage,
    RewriteStage,
    SelectStage,
    SimilarityFilterStage,
)
from rpsg_ray.engines.base import Sentiment
from rpsg_ray.engines.registry import load_embedder
from rpsg_ray.privacy.mechanisms import score
from rpsg_ray.rows import ROW_SCHEMA
from rpsg_ray.similarity.build import IndexShard
from rpsg_ray.stages.abstract import Abstract
from rpsg_ray.stages.label import Label
from rpsg_ray.stages.nll_filter import NllFilter
from rpsg_ray.stages.redact import Redact, redact_patterns
from rpsg_ray.stages.rewrite import Rewrite, guard
from rpsg_ray.stages.select import Select
from rpsg_ray.stages.similarity_filter import SimilarityFilter

HF = Engine(kind="transformers", dtype="float32")
DOMAIN = Domain()
SEEDS = [
    ("r1", "A gorgeous, tender film with wonderful performances and a generous heart.", "positive"),
    ("r2", "Tedious, ugly and far too long; the jokes die on the screen.", "negative"),
    ("r3", "The plot wanders but the lead actor keeps it watchable.", None),
]


def batch(rows: list[tuple[str, str, str | None]], **extra: list) -> pa.Table:
    base = pa.Table.from_pylist(
        [
            {
                "id": i,
                "text": t,
                "label": lab,
                "source": f"f:{n}",
                "pos": n,
                "status": "ok",
                "stage": None,
                "reason": None,
            }
            for n, (i, t, lab) in enumerate(rows)
        ],
        schema=ROW_SCHEMA,
    )
    for name, values in extra.items():
        base = base.append_column(name, pa.array(values))
    return base


def test_label_fills_only_missing_labels() -> None:
    out = Label(LabelStage())(batch(SEEDS))
    assert out.column("label").to_pylist()[:2] == ["positive", "negative"]
    assert out.column("label_source").to_pylist() == ["input", "input", "classifier"]
    assert out.column("label").to_pylist()[2] in ("positive", "negative", "unknown")


def test_stage_passes_settled_rows_untouched() -> None:
    b = batch(SEEDS)
    b = b.set_column(5, "status", pa.array(["ok", "quarantined", "ok"]))
    out = Label(LabelStage())(b)
    assert out.column("label_source").to_pylist()[1] is None and out.num_rows == 3


def test_abstract_gives_k_candidates_per_seed() -> None:
    out = Abstract(AbstractStage(engine=HF, candidates=3, max_tokens=24), DOMAIN, 1)(batch(SEEDS[:2]))
    cands = out.column("candidates").to_pylist()
    assert [len(c) for c in cands] == [3, 3] and all(any(x.strip() for x in c) for c in cands)
    assert all(t > 0 for t in out.column("tokens_abstract").to_pylist())


def test_select_zero_noise_picks_the_argmax() -> None:
    candidates = [
        ["A tender film with wonderful performances.", "Traffic was heavy on the highway.", "Terrible and boring."],
        ["The jokes are tedious and the film is too long.", "A lovely, warm family picnic.", "Bananas are yellow."],
    ]
    cfg = SelectStage(retry=False)
    stage = Select(cfg, sigma=0.0, abstract=AbstractStage(engine=HF), domain=DOMAIN, run_seed=1)
    out = stage(batch(SEEDS[:2], candidates=candidates))
    embedder = load_embedder(cfg.embedder)
    for r, (_, text, label) in enumerate(SEEDS[:2]):
        cos = embedder.embed(candidates[r]) @ embedder.embed([text])[0]
        agree = [s.label == label for s in stage.classifier.classify(candidates[r])]
        expected = candidates[r][int(np.argmax(score(cos, agree, True, 0.75, 0.25, 0.15, 0.0, 1.0)))]
        assert out.column("abstraction").to_pylist()[r] == expected
    assert out.column("abstraction").to_pylist() == [candidates[0][0], candidates[1][0]]


def test_select_huge_noise_is_near_uniform() -> None:
    """With σ ≫ score range the pick ignores the scores: across seeds (record ids) all candidates are chosen alike."""
    candidates = ["A tender film with wonderful performances.", "Traffic was heavy.", "Terrible.", "Bananas."]
    rows = [(f"id{i}", SEEDS[0][1], "positive") for i in range(400)]
    stage = Select(SelectStage(retry=False), sigma=1e4, abstract=AbstractStage(engine=HF), domain=DOMAIN, run_seed=3)
    out = stage(batch(rows, candidates=[candidates] * len(rows)))
    counts = np.array([out.column("abstraction").to_pylist().count(c) for c in candidates])
    assert ((counts - 100) ** 2 / 100).sum() < 16.27  # chi-square, 3 dof, p = 0.001


def test_select_retry_pass_runs_for_disagreeing_picks() -> None:
    candidates = [["Awful, boring, terrible.", "Dreadful and dull.", "Ugly and painful."]]
    stage = Select(
        SelectStage(retry=True),
        sigma=0.0,
        abstract=AbstractStage(engine=HF, candidates=3, max_tokens=24),
        domain=DOMAIN,
        run_seed=1,
    )
    out = stage(batch(SEEDS[:1], candidates=candidates))
    assert out.column("select_pass").to_pylist() == [2]
    assert out.column("tokens_select").to_pylist()[0] > 0


def test_guard_prefers_matching_sentiment() -> None:
    attempts = ["I hated it.", "I loved it so much.", ""]
    sentiments = [Sentiment("negative", 0.9), Sentiment("positive", 0.5), Sentiment("unknown", 1.0)]
    assert guard(attempts, sentiments, "positive", 5) == ("I loved it so much.", True)
    assert guard(attempts, sentiments, "negative", 5) == ("I hated it.", True)
    assert guard(["", " "], sentiments[:2], "positive", 5) == ("", False)
    chatty = ["Sure, here's a review: I loved it.", "I loved it, a joy."]
    both_positive = [Sentiment("positive", 0.9), Sentiment("positive", 0.6)]
    assert guard(chatty, both_positive, "positive", 5) == ("I loved it, a joy.", True)


def test_rewrite_two_passes_and_records_match() -> None:
    cfg = RewriteStage(engine=HF, attempts=2, max_tokens=48)
    b = batch(SEEDS[:2], abstraction=["A warm film with fine acting.", "A long, boring comedy."])
    first = Rewrite(cfg, DOMAIN, 1, 1)(b)
    assert all(t for t in first.column("rewrite_1").to_pylist())
    assert first.column("target_words").to_pylist() == [20, 20]
    second = Rewrite(cfg, DOMAIN, 1, 2)(first)
    assert second.column("rewrite_2").to_pylist() != first.column("rewrite_1").to_pylist()
    assert set(second.column("rewrite_2_match").to_pylist()) <= {True, False}


def test_redact_catches_planted_pii() -> None:
    fake = Faker()
    Faker.seed(11)
    name, email, phone = fake.name(), fake.email(), "(555) 123-4567"
    text = (
        f"My friend {name} emailed {email} and called {phone} about account AB123456 from Chicago; see https://x.io/a"
    )
    stage = Redact(RedactStage())
    out = stage(batch([("p1", "seed", None)], rewrite_1=["x"], rewrite_2=[text]))
    cleaned = out.column("synthetic_text").to_pylist()[0]
    for secret in (name, email, phone, "AB123456", "https://x.io/a", "Chicago"):
        assert secret not in cleaned, secret
    for placeholder in ("[PERSON]", "[EMAIL]", "[PHONE]", "[ID]", "[URL]", "[GPE]"):
        assert placeholder in cleaned
    assert out.column("pii_email").to_pylist() == [1] and out.column("pii_person").to_pylist()[0] >= 1


def test_redact_leaves_plain_text_alone() -> None:
    text = "A moving film about two sisters, shot in 1999 with a cast of 12."
    assert redact_patterns(text) == (text, {"EMAIL": 0, "URL": 0, "PHONE": 0, "ID": 0})


def test_nll_filter_drops_outside_bounds() -> None:
    texts = ["The film is a tedious, overlong mess with no heart.", "zxq vbn lkj qwe poi mnb asd fgh"]
    rows = batch([("a", "s", None), ("b", "s", None)], synthetic_text=texts)
    stage = NllFilter(NllFilterStage(engine=HF), bounds=None)
    nll = stage(rows).column("nll").to_pylist()
    assert nll[1] > nll[0] + 1.0  # gibberish is much less likely than prose
    stage.lo, stage.hi = 0.5, (nll[0] + nll[1]) / 2
    out = stage(rows)
    assert out.column("status").to_pylist() == ["ok", "dropped"]
    assert out.column("stage").to_pylist()[1] == "nll_filter" and "above hi" in out.column("reason").to_pylist()[1]


def test_similarity_filter_drops_copies_of_private_records() -> None:
    cfg = SimilarityFilterStage(threshold=0.9)
    index = load_embedder(cfg.embedder).embed([t for _, t, _ in SEEDS])
    outputs = [SEEDS[1][1], "A quiet documentary about bees and the people who keep them."]
    out = SimilarityFilter(cfg, lambda: IndexShard(index))(
        batch([("a", "s", None), ("b", "s", None)], synthetic_text=outputs)
    )
    sims = out.column("max_similarity").to_pylist()
    assert sims[0] == pytest.approx(1.0, abs=1e-3) and sims[1] < 0.9
    assert out.column("status").to_pylist() == ["dropped", "ok"]
