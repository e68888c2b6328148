"""DP-SGD fine-tuning of a causal LM with opacus (per-sample clipping, Poisson sampling, Gaussian noise).

Each private record becomes one chat example (a label-conditioned instruction, the record as the
answer); the loss is the mean token cross-entropy of the answer only, computed per example and then
averaged over the batch, so opacus' per-sample gradients are each example's own gradient (Hugging
Face's built-in loss averages tokens over the whole batch, which would couple examples).

On 2 CPU cores full fine-tuning is too heavy, so only the linear layers of the last
``trainable_layers`` transformer blocks train (parameter-efficient DP fine-tuning; stated in the
ledger). Everything else is frozen; opacus only computes per-sample gradients for trainable layers.
The noise and the Poisson sampling draw from generators seeded by the run's secret key.
"""

from __future__ import annotations

import math
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from rpsg_ray.engines.base import Chat
from rpsg_ray.engines.torch_threads import set_threads


@dataclass(frozen=True)
class DpTraining:
    """How to train. ``noise_multiplier`` None trains without clipping or noise (the ε = ∞ reference)."""

    noise_multiplier: float | None
    max_grad_norm: float
    sample_rate: float
    expected_batch_size: int
    steps: int
    learning_rate: float
    trainable_layers: int
    max_length: int
    noise_seed: int
    sampling_seed: int
    threads: int | None = None


@dataclass(frozen=True)
class DpTrainingResult:
    steps: int
    mean_batch_size: float
    trainable_parameters: int
    first_loss: float
    last_loss: float
    seconds: float


def encode_examples(tokenizer: object, examples: list[tuple[Chat, str]], max_length: int) -> dict[str, object]:
    """input ids, attention mask and answer-only labels (-100 on the prompt and padding), right-padded."""
    import torch

    rows, labels = [], []
    for chat, answer in examples:
        text = tokenizer.apply_chat_template(chat, tokenize=False, add_generation_prompt=True)
        prompt = tokenizer(text, add_special_tokens=False)["input_ids"]  # the template holds its own specials
        reply = tokenizer(answer, add_special_tokens=False)["input_ids"] + [tokenizer.eos_token_id]
        ids = (prompt + reply)[:max_length]
        rows.append(ids)
        labels.append(([-100] * len(prompt) + reply)[:max_length])
    width = max(len(r) for r in rows)
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    return {
        "input_ids": torch.tensor([r + [pad] * (width - len(r)) for r in rows]),
        "attention_mask": torch.tensor([[1] * len(r) + [0] * (width - len(r)) for r in rows]),
        "labels": torch.tensor([lab + [-100] * (width - len(lab)) for lab in labels]),
    }


def per_example_loss(model: object, input_ids: object, attention_mask: object, labels: object) -> object:
    """Mean answer-token cross-entropy of each example (shape [batch])."""
    import torch

    logits = model(input_ids=input_ids, attention_mask=attention_mask).logits[:, :-1]
    target = labels[:, 1:]
    token_loss = torch.nn.functional.cross_entropy(
        logits.reshape(-1, logits.shape[-1]), target.reshape(-1), ignore_index=-100, reduction="none"
    ).view(target.shape)
    counts = (target != -100).sum(dim=1).clamp(min=1)
    return token_loss.sum(dim=1) / counts


def trainable_linears(model: object, last_layers: int) -> list[object]:
    """Freeze everything, then unfreeze the linear layers of the last `last_layers` transformer blocks."""
    import torch

    for p in model.parameters():
        p.requires_grad_(False)
    blocks = model.model.layers[-last_layers:]
    linears = [m for block in blocks for m in block.modules() if isinstance(m, torch.nn.Linear)]
    for m in linears:
        for p in m.parameters():
            p.requires_grad_(True)
    return linears


def poisson_loader(dataset: object, sample_rate: float, seed: int) -> object:
    """Batches in which each example is included independently with probability `sample_rate` (the ledger's
    q), drawn from a generator seeded by the run's key. opacus' own conversion of a fixed-batch loader would
    sample at 1/len(loader) instead (1/6 = 0.167 against q = 0.193 at N = 331) and draw from its own RNG."""
    import torch
    from opacus.data_loader import DPDataLoader

    return DPDataLoader(dataset, sample_rate=sample_rate, generator=torch.Generator().manual_seed(seed))


def private_training(model: object, params: list[object], dataset: object, t: DpTraining) -> tuple[object, ...]:
    """(model, optimizer, loader) as trained: Poisson batches at the ledger's rate and, unless the plan trains
    without noise, per-sample clipping at C and Gaussian noise σ·C from the keyed generator on every step."""
    import torch
    from opacus import PrivacyEngine

    loader = poisson_loader(dataset, t.sample_rate, t.sampling_seed)
    optimizer = torch.optim.Adam(params, lr=t.learning_rate)
    if t.noise_multiplier is None:
        return model, optimizer, loader
    # poisson_sampling=False: the loader already is the Poisson one at the ledger's q; opacus would rebuild it
    # at 1/len(loader).
    model, optimizer, loader = PrivacyEngine(accountant="prv").make_private(
        module=model,
        optimizer=optimizer,
        data_loader=loader,
        noise_multiplier=t.noise_multiplier,
        max_grad_norm=t.max_grad_norm,
        poisson_sampling=False,
        noise_generator=torch.Generator().manual_seed(t.noise_seed),
    )
    # The optimizer divides the noisy sum by an expected batch (post-processing). opacus derives it as
    # int(len(dataset) / len(loader)), which rounds to 0 (a NaN update) when q·N < 1 and uses the private N.
    optimizer.expected_batch_size = t.expected_batch_size
    return model, optimizer, loader


def trim_padding(input_ids: object, attention_mask: object, labels: object) -> tuple[object, object, object]:
    """The batch cut to its longest example: examples are right-padded to the longest of the whole set, and a
    step over padding costs as much as one over text (a batch of short records otherwise pays for the longest)."""
    width = int(attention_mask.sum(dim=1).max())
    return input_ids[:, :width], attention_mask[:, :width], labels[:, :width]


def train_step(model: object, optimizer: object, params: list[object], batch: tuple, private: bool) -> float | None:
    """One optimizer step on a Poisson batch; its mean loss, or None for an empty batch. A private step that drew
    no example still releases noise, as the subsampled Gaussian the accountant counts does: zero per-sample
    gradients of batch size 0 make opacus add N(0, σ²C²) as on any other step. (With q = expected_batch_size /
    public_records and few records, empty batches are common: about 30% of steps at q·N = 1.2.)"""
    import torch

    optimizer.zero_grad()
    if not len(batch[0]):
        if private:
            for p in params:
                p.grad_sample = torch.zeros((0, *p.shape), dtype=p.dtype)
            optimizer.step()
        return None
    loss = per_example_loss(model, *trim_padding(*batch)).mean()
    loss.backward()
    optimizer.step()
    return float(loss.detach())


def report_step(step: int, steps: int, started: float) -> None:
    """Progress about every tenth of the steps: the step and the time only, never a loss (on private records it
    is a statistic of them that no ε covers). Printed to stderr because Ray forwards a task's stderr to the
    driver, where a logger of the worker has no handler."""
    if step == steps or step % math.ceil(steps / 10) == 0:
        print(f"fine-tuning: step {step} of {steps}, {time.time() - started:.0f} s", file=sys.stderr, flush=True)


def dp_finetune(model_path: str, out_dir: Path, examples: list[tuple[Chat, str]], t: DpTraining) -> DpTrainingResult:
    """Train, save the model and tokenizer to ``out_dir`` (an HF folder any engine loads), return what happened."""
    import torch
    from torch.utils.data import TensorDataset
    from transformers import AutoModelForCausalLM, AutoTokenizer

    set_threads(t.threads)
    started = time.time()
    tokenizer = AutoTokenizer.from_pretrained(model_path)
    model = AutoModelForCausalLM.from_pretrained(model_path, dtype=torch.float32).train()  # opacus needs train mode
    linears = trainable_linears(model, t.trainable_layers)
    enc = encode_examples(tokenizer, examples, t.max_length)
    dataset = TensorDataset(enc["input_ids"], enc["attention_mask"], enc["labels"])
    params = [p for m in linears for p in m.parameters()]
    model, optimizer, loader = private_training(model, params, dataset, t)
    losses, sizes, step = [], [], 0
    while step < t.steps:
        for batch in loader:
            if step == t.steps:
                break
            step += 1
            sizes.append(len(batch[0]))
            loss = train_step(model, optimizer, params, batch, private=t.noise_multiplier is not None)
            if loss is not None:
                losses.append(loss)
            report_step(step, t.steps, started)
    trained = model._module if hasattr(model, "_module") else model
    trained.eval()
    trained.save_pretrained(out_dir)
    tokenizer.save_pretrained(out_dir)
    return DpTrainingResult(
        steps=step,
        mean_batch_size=sum(sizes) / max(len(sizes), 1),
        trainable_parameters=sum(p.numel() for p in params),
        first_loss=losses[0] if losses else float("nan"),
        last_loss=losses[-1] if losses else float("nan"),
        seconds=time.time() - started,
    )
