"""The report's figures; `rpsg_ray.pages` embeds them, so report.html and report.md stay self-contained."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np
from sklearn.decomposition import PCA

from rpsg_ray.evaluation.diversity import word_counts
from rpsg_ray.evaluation.stats import Estimate
from rpsg_ray.pages import subplots

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

REAL_COLOUR, FLOOR_COLOUR = "#7f7f7f", "#d62728"


def _grid(count: int, cols: int) -> tuple[Figure, list[Axes]]:
    rows = math.ceil(count / cols)
    fig, axes = subplots(rows, cols, figsize=(3.2 * cols, 2.6 * rows), squeeze=False)
    flat = list(axes.flat)
    for ax in flat[count:]:
        ax.set_visible(False)
    return fig, flat[:count]


def metric_bars(
    names: list[str], metrics: list[tuple[str, str, list[Estimate], Estimate | None]], colours: list[str]
) -> Figure:
    """One panel per metric: a bar per method with its 95% interval, the floor as a dashed line."""
    fig, axes = _grid(len(metrics), 4)
    x = np.arange(len(names))
    for ax, (title, better, estimates, floor) in zip(axes, metrics, strict=True):
        means = [e.mean for e in estimates]
        errors = np.array([[e.mean - e.ci95[0], e.ci95[1] - e.mean] if e.ci95 else [0, 0] for e in estimates]).T
        ax.bar(x, means, yerr=errors, color=colours, capsize=3)
        if floor is not None and math.isfinite(floor.mean):
            ax.axhline(floor.mean, color=FLOOR_COLOUR, linestyle="--", linewidth=1, label="floor")
        ax.set_title(f"{title}\n({better})", fontsize=8)
        ax.set_xticks(x, [str(i + 1) for i in range(len(names))], fontsize=7)
        ax.tick_params(axis="y", labelsize=7)
    fig.suptitle("  ".join(f"{i + 1} = {n}" for i, n in enumerate(names)), fontsize=8)
    fig.tight_layout()
    return fig


def projection(real: np.ndarray, sets: list[tuple[str, np.ndarray]]) -> Figure:
    """PCA fitted on the real test embeddings; each panel shows real (grey) against one set."""
    pca = PCA(n_components=2, random_state=0).fit(real)
    real_2d = pca.transform(real)
    fig, axes = _grid(len(sets), min(3, len(sets)))
    for ax, (name, emb) in zip(axes, sets, strict=True):
        ax.scatter(real_2d[:, 0], real_2d[:, 1], s=4, c=REAL_COLOUR, alpha=0.35, label="real test")
        points = pca.transform(emb)
        ax.scatter(points[:, 0], points[:, 1], s=10, c="#1f77b4", alpha=0.8, label=name)
        ax.set_title(name, fontsize=9)
        ax.legend(fontsize=7, loc="upper right")
        ax.tick_params(labelsize=7)
    fig.tight_layout()
    return fig


def length_histograms(real_texts: list[str], sets: list[tuple[str, list[str]]]) -> Figure:
    """Word-count distribution of each set over the real test split's (densities, shared bins)."""
    real = word_counts(real_texts)
    top = max([int(np.percentile(real, 99))] + [int(word_counts(t).max()) for _, t in sets]) + 1
    bins = np.linspace(0, top, 30)
    fig, axes = _grid(len(sets), min(3, len(sets)))
    for ax, (name, texts) in zip(axes, sets, strict=True):
        ax.hist(real, bins=bins, density=True, color=REAL_COLOUR, alpha=0.5, label="real test")
        ax.hist(word_counts(texts), bins=bins, density=True, color="#1f77b4", alpha=0.6, label=name)
        ax.set_title(name, fontsize=9)
        ax.set_xlabel("words", fontsize=8)
        ax.legend(fontsize=7)
        ax.tick_params(labelsize=7)
    fig.tight_layout()
    return fig
