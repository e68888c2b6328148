"""`rpsg adapt`'s pieces: the training pairs are the run's own pass-1 prompts with the public record as the
answer, the private input is refused, the adapt section leaves runs' digests alone, and batches are cut to
their longest example without changing a loss."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import torch

from rpsg_ray.adaptation import check_public, training_pairs
from rpsg_ray.config import load_config
from rpsg_ray.engines.base import Completion
from rpsg_ray.engines.dp_finetune import encode_examples, per_example_loss, trim_padding
from rpsg_ray.errors import ConfigError
from rpsg_ray.io.sources import plan_read_units
from rpsg_ray.privacy.keys import new_key
from rpsg_ray.stages.rewrite import Rewrite

ROOT = Path(__file__).resolve().parents[2]
COMPLAINTS = ROOT / "configs" / "complaints.yaml"
RECORD = "My bank closed my account without notice and kept the balance for six weeks."


def pairs_batch() -> pa.Table:
    return pa.table(
        {
            "id": ["a", "b"],
            "text": [RECORD, "The collector called my employer twice after I asked for letters only."],
            "label": ["bank_account", "debt_collection"],
            "candidates": [["FIRST abstraction of a", "SECOND of a"], ["FIRST abstraction of b"]],
        }
    )


def test_each_pair_is_the_pass_one_prompt_of_its_first_abstraction_with_the_record_as_answer() -> None:
    cfg = load_config(COMPLAINTS)
    out = training_pairs(pairs_batch(), cfg, new_key())
    assert out.column("answer").to_pylist() == pairs_batch().column("text").to_pylist()
    chat = json.loads(out.column("prompt")[0].as_py())
    ask = chat[-1]
    assert ask["role"] == "user" and ask["content"].startswith("Write a ")  # pass 1, not "Here is a ..."
    assert "FIRST abstraction of a" in ask["content"] and "SECOND" not in ask["content"]
    assert "a complaint about a bank account" in ask["content"]  # the record's label, by its public phrase
    assert RECORD not in json.dumps(chat)  # the answer is never in its own prompt
    shown = [m["content"] for m in chat if m["role"] == "assistant"]
    assert len(shown) == cfg.domain.examples_shown and set(shown) <= set(cfg.domain.examples)


def test_a_pair_prompt_is_what_the_rewrite_stage_sends_for_the_same_row_and_key() -> None:
    """The Rewrite stage's own pass-1 chats (its generate call captured), for the same rows, abstraction and key:
    the model trains on exactly the prompt a run sends it (length target, label phrase, examples drawn)."""
    cfg, key = load_config(COMPLAINTS), new_key()
    echo = cfg.rpsg.rewrite.model_copy(update={"engine": cfg.rpsg.rewrite.engine.model_copy(update={"kind": "echo"})})
    stage = Rewrite(echo, cfg.domain, key, 1, "abstraction")
    sent: list[list[dict[str, str]]] = []

    def capture(chats: list, budgets: list, seeds: list) -> list[Completion]:
        sent.extend(chats)
        return [Completion(texts=["I was charged twice."] * echo.attempts, tokens=1) for _ in chats]

    stage._generate = capture  # type: ignore[method-assign]
    batch = pairs_batch()
    first = [c[0] for c in batch.column("candidates").to_pylist()]
    stage.process(batch.append_column("abstraction", pa.array(first)))
    pairs = training_pairs(batch, cfg, key).column("prompt").to_pylist()
    assert [json.loads(p) for p in pairs] == sent[: len(pairs)]


def test_the_private_input_is_refused_as_public_records(tmp_path: Path) -> None:
    cfg = load_config(COMPLAINTS)
    for name in ("private", "public"):
        pq.write_table(pairs_batch().drop_columns(["candidates"]), tmp_path / f"{name}.parquet")
    cfg = cfg.model_copy(update={"input": cfg.input.model_copy(update={"path": str(tmp_path / "private.parquet")})})
    private_units = plan_read_units(cfg.input, tuple(cfg.domain.labels))
    public = cfg.input.model_copy(update={"path": str(tmp_path / "public.parquet")})
    public_units = plan_read_units(public, tuple(cfg.domain.labels))
    with pytest.raises(ConfigError, match="private input"):
        check_public(cfg, private_units, tmp_path / "model", overwrite=False)
    with pytest.raises(ConfigError, match="private input"):  # among other public files
        check_public(cfg, public_units + private_units, tmp_path / "model", overwrite=False)
    (tmp_path / "model").mkdir()
    (tmp_path / "model" / "config.json").write_text("{}")
    with pytest.raises(ConfigError, match="--overwrite"):
        check_public(cfg, public_units, tmp_path / "model", overwrite=False)
    check_public(cfg, public_units, tmp_path / "model", overwrite=True)


def test_adapt_settings_leave_a_runs_digest_alone_and_the_adapted_model_does_not() -> None:
    base = load_config(COMPLAINTS)
    assert load_config(COMPLAINTS, ["adapt.steps=7"]).digest() == base.digest()
    assert load_config(COMPLAINTS, ["rpsg.rewrite.engine.model=models/x"]).digest() != base.digest()


def test_a_batch_is_cut_to_its_longest_example_and_its_losses_do_not_change(tiny_model: Path) -> None:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tiny_model)
    chat = [{"role": "user", "content": "Write a complaint."}]
    long = " ".join(["word"] * 60)
    enc = encode_examples(tokenizer, [(chat, "Short one."), (chat, "A bit longer than that."), (chat, long)], 128)
    short = {k: v[:2] for k, v in enc.items()}  # the two short rows, padded to the long one's width
    trimmed = trim_padding(short["input_ids"], short["attention_mask"], short["labels"])
    assert trimmed[0].shape[1] == int(short["attention_mask"].sum(dim=1).max()) < enc["input_ids"].shape[1]
    model = AutoModelForCausalLM.from_pretrained(tiny_model, dtype=torch.float32).eval()
    with torch.no_grad():
        padded_loss = per_example_loss(model, short["input_ids"], short["attention_mask"], short["labels"])
        cut_loss = per_example_loss(model, *trimmed)
    assert torch.allclose(padded_loss, cut_loss, atol=1e-5)
