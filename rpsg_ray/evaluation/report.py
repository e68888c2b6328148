"""Write what an evaluation found: metrics.json, a self-contained report.html and report.md, a terminal table."""

from __future__ import annotations

import json
import random
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING

from rpsg_ray.evaluation import plots
from rpsg_ray.evaluation.results import Evaluation, MethodResult
from rpsg_ray.evaluation.stats import Estimate
from rpsg_ray.pages import Page, text_table
from rpsg_ray.quality.detector import REASONS

if TYPE_CHECKING:
    from matplotlib.figure import Figure

# key, label, which way is better (shown next to the number)
METRICS = (
    ("classifier_accuracy", "classifier accuracy", "higher"),
    ("classifier_macro_f1", "classifier macro-F1", "higher"),
    ("next_token_accuracy", "next-token accuracy", "higher"),
    ("next_token_perplexity", "next-token perplexity", "lower"),
    ("fid", "FID", "lower"),
    ("mauve", "MAUVE", "higher"),
    ("knn_precision", "k-NN precision", "higher"),
    ("knn_recall", "k-NN recall", "higher"),
    ("self_bleu", "Self-BLEU", "lower"),
    ("distinct_1", "distinct-1", "higher"),
    ("distinct_2", "distinct-2", "higher"),
    ("mean_words", "mean words", "near real"),
    ("length_ks", "length KS vs real", "lower"),
    ("defect_rate", "defect rate (any)", "lower"),
)
EXAMPLES_WORST, EXAMPLES_RANDOM = 8, 5
COLOURS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd", "#8c564b", "#e377c2", "#17becf")


def _fmt(e: Estimate | None) -> str:
    if e is None:
        return "–"
    if e.mean != e.mean:  # NaN: not computable (e.g. a single label)
        return "n/a"
    digits = 1 if abs(e.mean) >= 100 else 3
    text = f"{e.mean:.{digits}f}"
    return f"{text} [{e.ci95[0]:.{digits}f}, {e.ci95[1]:.{digits}f}]" if e.ci95 else text


def metrics_json(ev: Evaluation) -> dict[str, object]:
    """One entry per evaluated set; every metric carries its settings and, if repeated, mean and 95% interval."""
    return {
        "sample_size_n": ev.n,
        "settings": asdict(ev.settings),
        "real_test": ev.real_test,
        "real_train": ev.real_train,
        "interval": "95% confidence interval of the mean over repeats (Student's t)",
        "floors": {k: v.to_dict() for k, v in ev.floors.items()},
        "methods": [
            {
                "name": m.name,
                "kind": m.kind,
                "method": m.method,
                "run_dir": m.run_dir,
                "rows": m.rows,
                "metrics": {k: v.to_dict() for k, v in m.metrics.items()},
                **m.run_info,
            }
            for m in ev.methods
        ],
        "wall_seconds": round(ev.wall_seconds, 1),
    }


def _header(ev: Evaluation) -> list[str]:
    return ["metric", *(m.name for m in ev.methods), "floor"]


def _table_rows(ev: Evaluation) -> list[list[str]]:
    rows = []
    for key, label, better in METRICS:
        name = f"{label} (N={ev.n})" if key == "fid" else label
        rows.append([f"{name} ({better})", *(_fmt(m.metrics.get(key)) for m in ev.methods), _fmt(ev.floors.get(key))])
    for kind in REASONS:
        rows.append([f"  {kind} rate", *(_fmt(m.metrics.get(f"defect_rate.{kind}")) for m in ev.methods), "–"])
    return rows


def _examples(m: MethodResult, seed: int) -> list[tuple[str, str]]:
    """The worst rows first (most defect kinds), then a few random ones: (text, reasons)."""
    flagged = sorted(
        ((v.reasons, t) for v, t in zip(m.defects.verdicts, m.texts, strict=True) if not v.ok),
        key=lambda x: -len(x[0]),
    )
    worst = [(t, ", ".join(r)) for r, t in flagged[:EXAMPLES_WORST]]
    picked = random.Random(seed).sample(range(len(m.texts)), min(EXAMPLES_RANDOM, len(m.texts)))
    return worst + [(m.texts[i], ", ".join(m.defects.verdicts[i].reasons) or "ok") for i in picked]


def _figures(ev: Evaluation) -> dict[str, Figure]:
    names = [m.name for m in ev.methods]
    colours = [plots.REAL_COLOUR if m.kind == "real" else COLOURS[i % len(COLOURS)] for i, m in enumerate(ev.methods)]
    bars = [
        (label, better, [m.metrics[key] for m in ev.methods], ev.floors.get(key))
        for key, label, better in METRICS
        if all(key in m.metrics for m in ev.methods)
    ]
    return {
        "Metrics per method (bars: mean over repeats, whiskers: 95% interval, dashed: floor)": plots.metric_bars(
            names, bars, colours
        ),
        "Sentence embeddings, PCA fitted on the real test split": plots.projection(
            ev.test_embeddings, [(m.name, m.embeddings) for m in ev.methods]
        ),
        "Length distribution against the real test split": plots.length_histograms(
            ev.test_texts, [(m.name, m.texts) for m in ev.methods]
        ),
    }


def _info_lines(ev: Evaluation) -> list[str]:
    s = ev.settings
    return [
        f"Matched sample size N = {ev.n} per set and per repeat, {s.repeats} repeats (seed {s.seed}); "
        f"real test split {ev.real_test['path']} ({ev.real_test['rows_used']} of {ev.real_test['rows']} rows used); "
        f"ceiling drawn from {ev.real_train['path']} ({ev.real_train['rows']} rows).",
        f"Features for the classifier, FID, MAUVE and k-NN: {s.embedder} sentence embeddings. MAUVE: mauve-text, "
        f"num_buckets = max(2, N/10), scaling factor 5. k-NN precision/recall: k = 3. Self-BLEU: sacrebleu, "
        f"4-grams, 13a tokenizer, exp smoothing, first {min(ev.n, s.self_bleu_rows)} rows of each draw.",
        f"Next-token LM: GPT-2-style ({s.lm.n_layer} layers, {s.lm.n_embd} wide) from a config with the "
        f"{s.lm.tokenizer} tokenizer, {s.lm.steps} steps × {s.lm.batch_size} × {s.lm.block_size} tokens, seed "
        f"{s.lm.seed}, tested on {s.lm_test_rows} real test texts; floor = the same model untrained.",
        "Defects: rpsg_ray.quality.detector over every row drawn; a row can carry several kinds.",
        f"Wall time {ev.wall_seconds:.0f} s.",
    ]


def _run_info_lines(m: MethodResult) -> list[str]:
    out = []
    for key, value in m.run_info.items():
        if isinstance(value, dict):
            value = ", ".join(f"{k} {v:.3f}" if isinstance(v, float) else f"{k} {v}" for k, v in value.items())
        out.append(f"{key.replace('_', ' ')}: {value or 'none'}")
    return out


def _page(ev: Evaluation) -> Page:
    page = Page("Synthetic data quality", tab="rpsg evaluate")
    page.notes(_info_lines(ev))
    page.heading("Metrics")
    page.table(_table_rows(ev), _header(ev))
    page.notes(f"{m.name}: " + "; ".join(_run_info_lines(m)) for m in ev.methods if m.run_info)
    for title, fig in _figures(ev).items():
        page.figure(title, fig)
    page.heading("Example rows (worst quality first)")
    for m in ev.methods:
        if m.kind == "synthetic":
            page.heading(m.name, level=3)
            page.table(_examples(m, ev.settings.seed), ["text", "defects"])
    return page


def write_report(ev: Evaluation, output: Path) -> str:
    """Write the three files; returns the terminal summary."""
    output.mkdir(parents=True, exist_ok=True)
    (output / "metrics.json").write_text(json.dumps(metrics_json(ev), indent=2, ensure_ascii=False))
    _page(ev).write(output / "report.html", output / "report.md")
    files = ", ".join(str(output / f) for f in ("metrics.json", "report.html", "report.md"))
    table = text_table([_header(ev), *_table_rows(ev)])
    return f"{table}\n\nN = {ev.n} rows per set and repeat; {ev.wall_seconds:.0f} s; wrote {files}"
