"""DP-SGD baseline: the ledger's ε against two accountants, per-sample clipping, keyed noise, answer-only loss.

The training tests use a tiny randomly initialised Llama with the packaged SmolLM2 tokenizer: they check the
DP plumbing (clipping, noise, masking), never model quality."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from opacus import PrivacyEngine
from torch.utils.data import DataLoader, TensorDataset

from rpsg_ray.config import Domain, load_config
from rpsg_ray.engines.dp_finetune import (
    DpTraining,
    dp_finetune,
    encode_examples,
    per_example_loss,
    poisson_loader,
    private_training,
    train_step,
    trainable_linears,
)
from rpsg_ray.methods.common import label_chat
from rpsg_ray.methods.dpsgd import training_plan
from rpsg_ray.privacy.accountant import dpsgd_epsilon, dpsgd_pld_epsilon
from rpsg_ray.privacy.keys import new_key
from rpsg_ray.privacy.ledger import dpsgd_ledger

ROOT = Path(__file__).resolve().parents[2]
TEXTS = ["A sharp, funny film.", "Dull and far too long.", "I loved every minute of it.", "A mess."]
LABELS = ["positive", "negative", "positive", "negative"]


def examples() -> list[tuple[list[dict[str, str]], str]]:
    return [(label_chat(Domain(), lab), text) for text, lab in zip(TEXTS, LABELS, strict=True)]


def test_ledger_epsilon_agrees_with_an_independent_accountant() -> None:
    cfg = load_config(
        None, ["dpsgd.epsilon=4", "dpsgd.steps=40", "dpsgd.expected_batch_size=64", "privacy.public_records=2000"]
    )
    ledger = dpsgd_ledger(cfg, 2000)
    q = ledger.composition["sample_rate"]
    assert q == pytest.approx(64 / 2000) and ledger.epsilon == pytest.approx(4.0, abs=0.05)
    assert dpsgd_epsilon(ledger.sigma, ledger.delta, q, 40) == pytest.approx(ledger.epsilon)
    assert dpsgd_pld_epsilon(ledger.sigma, ledger.delta, q, 40) == pytest.approx(ledger.epsilon, rel=0.03)
    assert "end to end" in ledger.scope["covers"][0]
    no_noise = load_config(None, ["dpsgd.epsilon=null", "privacy.public_records=2000"])
    assert dpsgd_ledger(no_noise, 2000).epsilon is None


def test_poisson_batches_sample_at_the_ledgers_rate() -> None:
    """The trainer's loader includes each record with the ledger's q: the realised mean batch is q·N (64 at
    N = 331; opacus' conversion of a fixed-batch loader gave 331/6 = 55.2), and the draws follow the key."""
    cfg = load_config(None, ["dpsgd.epsilon=4", "dpsgd.expected_batch_size=64", "privacy.public_records=331"])
    q = dpsgd_ledger(cfg, 331).composition["sample_rate"]
    data = TensorDataset(torch.arange(331).unsqueeze(1))

    def batches(seed: int, steps: int = 400) -> list[list[int]]:
        loader, out = poisson_loader(data, q, seed), []
        while len(out) < steps:  # the trainer's loop: epochs of the same loader, its generator running on
            out += [b[0].flatten().tolist() for b in loader]
        return out[:steps]

    sizes = [len(b) for b in batches(11)]
    se = (331 * q * (1 - q) / len(sizes)) ** 0.5
    assert abs(sum(sizes) / len(sizes) - q * 331) < 4 * se
    assert batches(11, 20) == batches(11, 20) and batches(11, 20) != batches(12, 20)


def noised_step(tiny_model: Path, empty: bool) -> tuple[torch.Tensor, float]:
    """The trainer's own optimizer after one step on the known batch (or an empty Poisson batch) whose per-sample
    gradients are all zero: only the noise is left. Returns it per summed gradient, and the ledger's σ·C."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    cfg = load_config(None, ["dpsgd.epsilon=4", "privacy.public_records=2000", "dpsgd.max_grad_norm=0.5"])
    ledger = dpsgd_ledger(cfg, 2000)
    tokenizer = AutoTokenizer.from_pretrained(tiny_model)
    enc = encode_examples(tokenizer, examples(), 96)
    batch = (enc["input_ids"], enc["attention_mask"], enc["labels"])
    model = AutoModelForCausalLM.from_pretrained(tiny_model, dtype=torch.float32).train()
    params = [p for m in trainable_linears(model, 1) for p in m.parameters()]
    model, optimizer, _ = private_training(model, params, TensorDataset(*batch), training_plan(cfg, ledger, new_key()))
    if empty:
        assert train_step(model, optimizer, params, tuple(x[:0] for x in batch), private=True) is None
    else:
        optimizer.zero_grad()
        (per_example_loss(model, *batch) * 0.0).mean().backward()
        optimizer.step()
    return torch.cat([p.grad.flatten() for p in params]) * optimizer.expected_batch_size, ledger.sigma * 0.5


@pytest.mark.parametrize("empty", [False, True], ids=["known-batch", "empty-batch"])
def test_gradient_noise_is_the_ledgers_sigma(tiny_model: Path, empty: bool) -> None:
    """Per step, the noise on the summed clipped gradients has the ledger's σ·C (±20%), also on a Poisson step
    that drew no example (the accountant counts it, so it must release noise, not skip the update)."""
    noise, sigma_c = noised_step(tiny_model, empty)
    assert noise.numel() > 5000
    assert float(noise.std()) == pytest.approx(sigma_c, rel=0.2)


def test_only_answer_tokens_are_trained(tiny_model: Path) -> None:
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tiny_model)
    enc = encode_examples(tokenizer, examples(), 96)
    for row, text in zip(enc["labels"].tolist(), TEXTS, strict=True):
        answer = [t for t in row if t != -100]
        assert tokenizer.decode(answer, skip_special_tokens=True) == text


def test_per_sample_gradients_are_clipped(tiny_model: Path) -> None:
    """With no noise, the averaged update is at most C although the raw gradient is far larger."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tiny_model)
    enc = encode_examples(tokenizer, examples(), 96)
    batch = (enc["input_ids"], enc["attention_mask"], enc["labels"])

    def gradient(clip: float | None) -> float:
        model = AutoModelForCausalLM.from_pretrained(tiny_model, dtype=torch.float32).train()
        params = [p for m in trainable_linears(model, 1) for p in m.parameters()]
        optimizer = torch.optim.SGD(params, lr=0.0)
        if clip is not None:
            loader = DataLoader(TensorDataset(*batch), batch_size=len(TEXTS))
            model, optimizer, _ = PrivacyEngine().make_private(
                module=model,
                optimizer=optimizer,
                data_loader=loader,
                noise_multiplier=0.0,
                max_grad_norm=clip,
                poisson_sampling=False,
            )
        per_example_loss(model, *batch).mean().backward()
        optimizer.step()
        return float(torch.sqrt(sum((p.grad**2).sum() for p in params)))

    clip = 1e-4
    assert gradient(None) > 100 * clip
    assert gradient(clip) <= clip * (1 + 1e-5)


def test_noise_is_drawn_from_the_key(tiny_model: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    def train(noise_seed: int, name: str) -> dict[str, torch.Tensor]:
        plan = DpTraining(
            noise_multiplier=1.0,
            max_grad_norm=1.0,
            sample_rate=0.5,
            expected_batch_size=2,
            steps=2,
            learning_rate=1e-2,
            trainable_layers=1,
            max_length=64,
            noise_seed=noise_seed,
            sampling_seed=7,
        )
        result = dp_finetune(str(tiny_model), tmp_path / name, examples(), plan)
        assert result.steps == 2 and result.trainable_parameters > 0
        from safetensors.torch import load_file

        return load_file(tmp_path / name / "model.safetensors")

    a, again, other = train(1, "a"), train(1, "again"), train(2, "other")
    progress = capsys.readouterr().err
    assert "fine-tuning: step 2 of 2" in progress and "loss" not in progress  # progress, never a private statistic
    layer = "model.layers.1.mlp.down_proj.weight"
    assert torch.equal(a[layer], again[layer])  # a resumed draw with the same key is the same draw
    assert not torch.equal(a[layer], other[layer])  # another key, other noise
    assert torch.equal(a["model.layers.0.mlp.down_proj.weight"], other["model.layers.0.mlp.down_proj.weight"])  # frozen
