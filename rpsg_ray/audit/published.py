"""Attacks on every other published field: the label column, any per-row column beside the text (an id, a
score), and the other shareable files. The audit lists each field it attacked, so a new published column
cannot go unexamined: an unknown numeric column is read at the candidate's nearest synthetic row, an unknown
string column is searched for the candidate's id."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from rpsg_ray.audit.attacks import TextSet
from rpsg_ray.io.run_reader import RunFiles

TEXT, LABEL = "text", "label"
MIN_TEXT_MATCH = 8
"""Shorter candidate texts are not searched for in the published files (they would match by chance)."""


@dataclass(frozen=True)
class PublishedField:
    file: str
    field: str
    attack: str


@dataclass(frozen=True)
class Published:
    """A run's shareable files as the attacker sees them."""

    texts: list[str]
    labels: list[str]
    columns: dict[str, list[object]]
    files: dict[str, str]
    """Every other published file's strings, by name."""


def read_published(files: RunFiles) -> Published:
    table = files.synthetic()
    columns = {c: table[c].to_pylist() for c in table.column_names if c not in (TEXT, LABEL)}
    labels = table[LABEL].to_pylist() if LABEL in table.column_names else [""] * table.num_rows
    documents = {name: _strings(raw) for name, raw in files.public_documents().items()}
    return Published(table[TEXT].to_pylist(), [str(x or "") for x in labels], columns, documents)


def _strings(raw: str) -> str:
    """Every string and number of a JSON file, one per line (JSON escaping would hide a quoted text), or the raw
    text of any other file."""
    try:
        stack, leaves = [json.loads(raw)], []
    except ValueError:
        return raw
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            stack += [*node.keys(), *node.values()]
        elif isinstance(node, list):
            stack += node
        elif node is not None:
            leaves.append(str(node))
    return "\n".join(leaves)


def _mentions(haystack: str, ids: list[str], texts: list[str]) -> np.ndarray:
    """How often each candidate's id (as a whole token) and text (if long enough to be telling) occur."""
    counts = []
    for i, t in zip(ids, texts, strict=True):
        n = len(re.findall(rf"(?<![\w-]){re.escape(i)}(?![\w-])", haystack))
        counts.append(float(n + (haystack.count(t) if len(t) >= MIN_TEXT_MATCH else 0)))
    return np.array(counts)


def same_label_similarity(candidates: TextSet, synthetic: TextSet) -> np.ndarray:
    """Highest cosine similarity to a synthetic row with the candidate's label (any row where none has it)."""
    sims = candidates.embeddings @ synthetic.embeddings.T
    cand = np.array(candidates.labels, dtype=object)[:, None]
    same = cand == np.array(synthetic.labels, dtype=object)[None, :]
    masked = np.where(same, sims, -np.inf).max(axis=1)
    return np.where(np.isfinite(masked), masked, sims.max(axis=1))


def _column_attack(
    name: str, values: list[object], candidates: TextSet, ids: list[str], synthetic: TextSet
) -> np.ndarray:
    array = pa.array(values)
    if pa.types.is_integer(array.type) or pa.types.is_floating(array.type) or pa.types.is_boolean(array.type):
        nearest = (candidates.embeddings @ synthetic.embeddings.T).argmax(axis=1)
        return np.nan_to_num(np.asarray(array.to_numpy(zero_copy_only=False), float)[nearest])
    strings = [str(v) for v in values if v is not None]
    exact = set(strings)
    return np.array([float(i in exact or any(i in s for s in strings)) for i in ids])


def published_attacks(
    candidates: TextSet, ids: list[str], synthetic: TextSet, files: dict[str, str]
) -> tuple[dict[str, np.ndarray], list[PublishedField]]:
    """Scores per attack, and the fields they used. `synthetic.columns` and `files` are empty for a control set."""
    scores: dict[str, np.ndarray] = {}
    fields = [PublishedField("synthetic.parquet", TEXT, "synthetic-only attacks")]
    if any(synthetic.labels):
        scores["same_label_similarity"] = same_label_similarity(candidates, synthetic)
        fields.append(PublishedField("synthetic.parquet", LABEL, "same_label_similarity"))
    for column, values in synthetic.columns.items():
        attack = f"column:{column}"
        scores[attack] = _column_attack(column, values, candidates, ids, synthetic)
        fields.append(PublishedField("synthetic.parquet", column, attack))
    for name, raw in files.items():
        attack = f"mentions:{name}"
        scores[attack] = _mentions(raw, ids, candidates.texts)
        fields.append(PublishedField(name, "whole file (every string)", attack))
    return scores, fields
