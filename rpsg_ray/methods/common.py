"""What the methods that generate from prompts share (AUG-PE, DP-SGD): a fresh run directory and key,
label-conditioned public prompts, and the published file in the schema every method writes, redacted."""

from __future__ import annotations

import shutil

import pyarrow as pa
import pyarrow.parquet as pq

from rpsg_ray.config import Domain
from rpsg_ray.engines.base import Chat
from rpsg_ray.errors import InputError
from rpsg_ray.io.layout import RunLayout
from rpsg_ray.privacy.keys import RunKey, create_key
from rpsg_ray.stages.redact import Redactor


def start_run_dir(layout: RunLayout, overwrite: bool) -> RunKey:
    """An empty run directory with a fresh secret key (baselines do not resume)."""
    if layout.root.exists() and any(layout.root.iterdir()):
        if not overwrite:
            raise InputError(f"{layout.root}: not empty; pass --overwrite or choose another --output")
        shutil.rmtree(layout.root)
    return create_key(layout.key)


def label_chat(domain: Domain, label: str | None) -> Chat:
    """A public, label-conditioned request for one record (no private data in it)."""
    kind = f"{label} {domain.item}" if label else domain.item
    return [
        {"role": "system", "content": f"You write short, realistic {domain.name} in the first person."},
        {"role": "user", "content": f"Write a short {kind} of 20 to 40 words. Output only the text."},
    ]


def chat_row(chat: Chat) -> dict[str, str]:
    return {"system": chat[0]["content"], "user": chat[1]["content"]}


def write_synthetic(
    layout: RunLayout, key: RunKey, method: str, texts: list[str], labels: list[str], redactor: Redactor
) -> dict[str, int]:
    """The published file every method writes: keyed random ids, text redacted like every method's output,
    label, in keyed-id order. Returns the redactions per kind, for the private manifest."""
    cleaned, counts = redactor(texts)
    ids = [key.output_id(f"{method}-{i}") for i in range(len(texts))]
    published = pa.table({"synthetic_id": ids, "text": cleaned, "label": labels}).sort_by("synthetic_id")
    pq.write_table(published, layout.synthetic)
    return {kind: sum(column) for kind, column in redactor.count_columns(counts, "").items()}
