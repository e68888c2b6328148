"""Draw matched samples, compute every metric for every method, and hand the results to the report.

Every run directory, and a "real data" ceiling drawn from the real train pool, is measured at the
same sample size N (the smallest run, capped by `max_rows`). Each repeat draws N rows of each set and
N rows of the real test split with its own seed; the fidelity and diversity metrics and the
classifier are computed per repeat (mean and 95% interval), the LM once per set (on repeat 0's draw,
it is the slow step). The embedder is loaded once, through the engines registry.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from rpsg_ray.engines.registry import load_embedder
from rpsg_ray.errors import InputError
from rpsg_ray.evaluation import diversity, downstream, fidelity
from rpsg_ray.evaluation.datasets import RunData, check_disjoint, load_real, load_run
from rpsg_ray.evaluation.quality import DETECTOR_SETTINGS, DefectCounts, count_defects, sentiment_consistency
from rpsg_ray.evaluation.report import write_report
from rpsg_ray.evaluation.results import Evaluation, EvaluationSettings, MethodResult
from rpsg_ray.evaluation.stats import Estimate
from rpsg_ray.io.tables import Records

CEILING = "real data (ceiling)"


class Progress:
    """Timestamped progress lines on stderr: long steps say what they are doing."""

    def __init__(self) -> None:
        self.started = time.time()

    def __call__(self, message: str) -> None:
        print(f"[evaluate {time.time() - self.started:6.1f}s] {message}", file=sys.stderr, flush=True)

    def lm_steps(self, what: str, total: int) -> Callable[[int, float], None]:
        def report(step: int, loss: float) -> None:
            if step % max(1, total // 4) == 0 or step == total:
                self(f"  LM on {what}: step {step}/{total}, loss {loss:.2f}")

        return report


def _draw(size: int, n: int, seed: int) -> np.ndarray:
    return np.sort(np.random.default_rng(seed).choice(size, n, replace=False))


def _settings_for(name: str, s: EvaluationSettings, n: int) -> dict[str, object]:
    feat = {"featurizer": s.embedder, "n": n, "repeats": s.repeats}
    return {
        "classifier": {**downstream.CLASSIFIER_SETTINGS, "features": s.embedder, "train_rows": n, "repeats": s.repeats},
        "lm": {**s.lm.describe(), "train_rows": n, "test_rows": s.lm_test_rows, "trainings": 1},
        "fid": feat,
        "mauve": {
            **feat,
            "package": "mauve-text",
            "num_buckets": fidelity.mauve_buckets(n),
            "mauve_scaling_factor": fidelity.MAUVE_SCALING,
        },
        "knn": {**feat, "k": fidelity.KNN_K},
        "self_bleu": {
            **diversity.BLEU_SETTINGS,
            "package": "sacrebleu",
            "rows": min(n, s.self_bleu_rows),
            "repeats": s.repeats,
        },
        "distinct": {"tokens": "lower-cased whitespace words", "rows": n, "repeats": s.repeats},
        "length": {"unit": "whitespace words", "rows": n, "repeats": s.repeats},
        "defects": {
            **DETECTOR_SETTINGS,
            "item": s.item,
            "sentences": s.sentences,
            "audience": s.audience,
            "rows": "every row drawn in any repeat",
        },
    }[name]


def _measure(
    name: str,
    population: Records,
    test: Records,
    test_emb: np.ndarray,
    test_draws: list[np.ndarray],
    embed: Callable[[list[str]], np.ndarray],
    s: EvaluationSettings,
    n: int,
    progress: Progress,
) -> tuple[dict[str, Estimate], DefectCounts, list[str], np.ndarray]:
    """Every metric for one set, at sample size n, against the same real test draws as every other set."""
    draws = [_draw(len(population), n, s.seed + 1000 + r) for r in range(s.repeats)]
    union = np.unique(np.concatenate(draws))
    progress(f"{name}: embedding {len(union)} rows")
    emb_union = embed([population.texts[i] for i in union])
    where = {int(i): k for k, i in enumerate(union)}
    lm_test = test.texts[: s.lm_test_rows]
    per: dict[str, list[float]] = {}

    def add(key: str, value: float) -> None:
        per.setdefault(key, []).append(value)

    for r, (draw, test_draw) in enumerate(zip(draws, test_draws, strict=True)):
        progress(f"{name}: repeat {r + 1}/{s.repeats} (classifier, FID, MAUVE, k-NN, Self-BLEU)")
        rows = population.take(draw.tolist())
        emb = emb_union[[where[int(i)] for i in draw]]
        real = test_emb[test_draw]
        acc, f1 = downstream.classifier_scores(emb, rows.labels, test_emb, test.labels)
        add("classifier_accuracy", acc)
        add("classifier_macro_f1", f1)
        add("fid", fidelity.fid(real, emb))
        add("mauve", fidelity.mauve_score(real, emb, seed=s.seed + r))
        precision, recall = fidelity.knn_precision_recall(real, emb)
        add("knn_precision", precision)
        add("knn_recall", recall)
        add("self_bleu", diversity.self_bleu(rows.texts[: s.self_bleu_rows]))
        add("distinct_1", diversity.distinct_n(rows.texts, 1))
        add("distinct_2", diversity.distinct_n(rows.texts, 2))
        add("mean_words", float(diversity.word_counts(rows.texts).mean()))
        add("length_ks", diversity.length_ks(rows.texts, [test.texts[i] for i in test_draw]))

    lm_rows = [population.texts[i] for i in draws[0]]
    progress(f"{name}: training the next-token LM ({s.lm.steps} steps) and scoring {len(lm_test)} real test texts")
    lm = downstream.next_token_scores(lm_rows, lm_test, s.lm, s.threads, progress.lm_steps(name, s.lm.steps))
    per["next_token_accuracy"], per["next_token_perplexity"] = [lm.accuracy], [lm.perplexity]

    union_texts = [population.texts[i] for i in union]
    defects = count_defects(union_texts, s.item, s.sentences, s.audience)
    group = {
        "classifier_accuracy": "classifier",
        "classifier_macro_f1": "classifier",
        "next_token_accuracy": "lm",
        "next_token_perplexity": "lm",
        "fid": "fid",
        "mauve": "mauve",
        "knn_precision": "knn",
        "knn_recall": "knn",
        "self_bleu": "self_bleu",
        "distinct_1": "distinct",
        "distinct_2": "distinct",
        "mean_words": "length",
        "length_ks": "length",
    }
    metrics = {k: Estimate(tuple(v), _settings_for(group[k], s, n)) for k, v in per.items()}
    defect_settings = {**_settings_for("defects", s, n), "rows": defects.rows}
    for kind, rate in defects.rates().items():
        metrics["defect_rate" if kind == "any" else f"defect_rate.{kind}"] = Estimate((rate,), defect_settings)
    return metrics, defects, union_texts, emb_union


def _run_info(run: RunData) -> dict[str, object]:
    info: dict[str, object] = {"rows_in_run": len(run.rows)}
    if run.sentiment_match is not None:
        labels = dict(zip(run.rows.ids, run.rows.labels, strict=True))
        info["sentiment_consistency"] = sentiment_consistency(labels, run.sentiment_match)
    else:
        info["sentiment_consistency"] = "not available (no private/diagnostics.parquet in this run directory)"
    info["pii_redactions"] = run.pii_counts if run.pii_counts is not None else "not reported by this method"
    return info


def evaluate(
    run_dirs: list[Path], real_test: Path, real_train: Path, output: Path, settings: EvaluationSettings
) -> Evaluation:
    """Measure every run directory and the real ceiling; write metrics.json, report.html, report.md."""
    if settings.repeats < 1:
        raise InputError("--repeats must be at least 1")
    progress = Progress()
    runs = [load_run(d) for d in run_dirs]
    test_full, train = load_real(real_test), load_real(real_train)
    check_disjoint(test_full, real_test, runs)
    test = test_full.take(_draw(len(test_full), min(len(test_full), settings.max_test_rows), settings.seed).tolist())
    n = min(min(len(r.rows) for r in runs), settings.max_rows, len(train), len(test))
    if n < 2 * fidelity.KNN_K:
        raise InputError(f"only {n} rows to compare; need at least {2 * fidelity.KNN_K}")
    progress(f"{len(runs)} run(s); matched sample size N = {n}; {settings.repeats} repeats; {len(test)} real test rows")
    progress(f"loading the embedder {settings.embedder}")
    embedder = load_embedder(settings.embedder, threads=settings.threads)
    progress(f"embedding {len(test)} real test rows")
    test_emb = embedder.embed(test.texts)
    test_draws = [_draw(len(test), n, settings.seed + 2000 + r) for r in range(settings.repeats)]

    sets = [(r.name, r.rows, r) for r in runs] + [(CEILING, train, None)]
    methods = []
    for name, population, run in sets:
        metrics, defects, texts, emb = _measure(
            name, population, test, test_emb, test_draws, embedder.embed, settings, n, progress
        )
        methods.append(
            MethodResult(
                name=name,
                kind="real" if run is None else "synthetic",
                rows=len(population),
                run_dir=None if run is None else str(run.path),
                method="real" if run is None else run.method,
                metrics=metrics,
                defects=defects,
                texts=texts,
                embeddings=emb,
                run_info={} if run is None else _run_info(run),
            )
        )

    progress("floors: majority-class classifier, untrained LM")
    acc, f1 = downstream.majority_floor(test.labels)
    floor_lm = downstream.next_token_scores(None, test.texts[: settings.lm_test_rows], settings.lm, settings.threads)
    floor_cls = {"model": "always the real test split's most common label"}
    floor_lm_settings = {**_settings_for("lm", settings, n), "trainings": 0, "note": "the same model, untrained"}
    floors = {
        "classifier_accuracy": Estimate((acc,), floor_cls),
        "classifier_macro_f1": Estimate((f1,), floor_cls),
        "next_token_accuracy": Estimate((floor_lm.accuracy,), floor_lm_settings),
        "next_token_perplexity": Estimate((floor_lm.perplexity,), floor_lm_settings),
    }
    evaluation = Evaluation(
        settings=settings,
        n=n,
        real_test={"path": str(real_test), "rows": len(test_full), "rows_used": len(test)},
        real_train={"path": str(real_train), "rows": len(train)},
        methods=methods,
        floors=floors,
        test_texts=test.texts,
        test_embeddings=test_emb,
    )
    evaluation.wall_seconds = time.time() - progress.started
    progress(f"writing the report to {output}")
    evaluation.summary = write_report(evaluation, output)
    return evaluation
