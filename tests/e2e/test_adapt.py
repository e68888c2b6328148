"""`rpsg adapt` end to end through the CLI: public records stream through the run's prepare and abstraction
stages (the abstraction on the echo stand-in), bad rows are counted rather than trained on, and the trained
model is an HF folder whose last blocks changed while the frozen embeddings did not."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import torch

from rpsg_ray.cli import main

ROOT = Path(__file__).resolve().parents[2]
TEXTS = [
    "A sharp and funny film with a great cast.",
    "Dull, slow and far too long.",
    "I loved every minute of this warm story.",
    "A mess from start to finish.",
    "Beautifully shot and well acted.",
    "The plot makes no sense at all.",
]


@pytest.mark.e2e
def test_adapt_trains_on_the_valid_public_records(ray_session: None, tiny_model: Path, tmp_path: Path) -> None:
    from transformers import AutoModelForCausalLM

    public = tmp_path / "public.parquet"
    ids = [f"p{i}" for i in range(len(TEXTS))] + ["p0", "p-null"]  # a duplicate id and a null text
    pq.write_table(
        pa.table(
            {
                "id": ids,
                "text": [*TEXTS, "A duplicate row.", None],
                "label": ["positive", "negative"] * 4,
            }
        ),
        public,
    )
    out = tmp_path / "model"
    sets = [
        "rpsg.abstract.engine.kind=echo",
        f"rpsg.rewrite.engine.model={tiny_model}",
        "adapt.steps=2",
        "adapt.batch_size=4",
        "adapt.max_length=512",
        "runtime.progress=false",
    ]
    args = ["adapt", "--config", str(ROOT / "configs" / "demo.yaml"), "--public", str(public), "--output", str(out)]
    assert main([*args, *(a for s in sets for a in ("--set", s))]) == 0
    report = json.loads((out / "adaptation.json").read_text())
    assert report["rows"] == {
        "input": 8,
        "valid_unique": 6,
        "quarantined_or_duplicate": 2,
        "not_sampled": 0,
        "dropped_by_stages": 0,
        "pairs": 6,
    }
    assert report["training"]["steps"] == 2 and report["base_model"] == str(tiny_model)
    assert not any(text in json.dumps(report) for text in TEXTS)
    base = AutoModelForCausalLM.from_pretrained(tiny_model).state_dict()
    adapted = AutoModelForCausalLM.from_pretrained(out).state_dict()
    assert torch.equal(base["model.embed_tokens.weight"], adapted["model.embed_tokens.weight"])  # frozen
    assert not torch.equal(base["model.layers.1.mlp.down_proj.weight"], adapted["model.layers.1.mlp.down_proj.weight"])
    assert main([*args, *(a for s in sets for a in ("--set", s))]) == 2  # an existing model needs --overwrite
