"""Train a small causal LM on a list of texts under a fixed budget, then score next-token prediction.

The downstream "next-word" utility test trains one model per text set (a method's synthetic rows, a
real sample of the same size) and compares them on the same real test texts. Every set gets the same
model, tokenizer, seed, steps and tokens: training packs the texts into one token stream (separated
by the tokenizer's end-of-text token) and each step reads `batch_size` windows of `block_size` tokens
at seeded random offsets, so a small set is revisited and a large one subsampled, never a different
amount of training. The model is GPT-2-shaped and initialised from a config (no pretrained weights),
so whatever it knows comes from the set itself. The packaged MiniLM WordPiece tokenizer (30,522
lower-cased pieces, close to words) keeps the output layer, the bulk of the cost, small enough to
train in under a minute on 2 CPU cores.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from rpsg_ray.engines.torch_threads import set_threads


@dataclass(frozen=True)
class LmBudget:
    """Model shape and training budget, identical for every text set compared."""

    tokenizer: str = "all-minilm-l6-v2"
    n_layer: int = 2
    n_head: int = 4
    n_embd: int = 128
    block_size: int = 48
    steps: int = 200
    batch_size: int = 6
    learning_rate: float = 1e-3
    seed: int = 0

    def describe(self) -> dict[str, object]:
        return {
            **asdict(self),
            "model": "GPT-2-style causal LM initialised from a config (random weights), packaged tokenizer",
            "tokens_seen": self.steps * self.batch_size * self.block_size,
        }


@dataclass(frozen=True)
class NextTokenScore:
    """Top-1 next-token accuracy and perplexity over every predicted token of the scored texts."""

    accuracy: float
    perplexity: float
    tokens: int


class SmallCausalLm:
    """One freshly initialised model; `train` once, then `score` as often as needed."""

    def __init__(self, budget: LmBudget, threads: int | None = None) -> None:
        import torch
        from transformers import AutoTokenizer, GPT2Config, GPT2LMHeadModel

        from rpsg_ray.engines.registry import resolve_model_path

        set_threads(threads)
        self.torch, self.budget = torch, budget
        self.tokenizer = AutoTokenizer.from_pretrained(resolve_model_path(budget.tokenizer))
        self.separator = self.tokenizer.sep_token_id or self.tokenizer.eos_token_id
        torch.manual_seed(budget.seed)
        config = GPT2Config(
            vocab_size=len(self.tokenizer),
            n_positions=budget.block_size,
            n_layer=budget.n_layer,
            n_head=budget.n_head,
            n_embd=budget.n_embd,
            bos_token_id=self.separator,
            eos_token_id=self.separator,
        )
        self.model = GPT2LMHeadModel(config).eval()

    def _encode(self, texts: list[str]) -> list[list[int]]:
        return self.tokenizer(texts, add_special_tokens=False)["input_ids"]

    def train(self, texts: list[str], progress: Callable[[int, float], None] | None = None) -> float:
        """Run the fixed budget on `texts`; returns the mean loss of the last 10% of steps."""
        torch, b = self.torch, self.budget
        stream: list[int] = []
        for ids in self._encode(texts):
            stream += [self.separator, *ids]
        window = b.block_size
        while len(stream) < 2 * window:  # a tiny set is tiled so every window is a full one
            stream += stream
        data = torch.tensor(stream, dtype=torch.long)
        generator = torch.Generator().manual_seed(b.seed)
        optimizer = torch.optim.AdamW(self.model.parameters(), lr=b.learning_rate, weight_decay=0.01)
        schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: min(1.0, (s + 1) / 20))
        self.model.train()
        tail: list[float] = []
        for step in range(b.steps):
            starts = torch.randint(0, len(data) - window, (b.batch_size,), generator=generator)
            batch = torch.stack([data[s : s + window] for s in starts.tolist()])
            logits = self.model(input_ids=batch).logits[:, :-1]
            loss = torch.nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), batch[:, 1:].reshape(-1))
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            schedule.step()
            value = loss.item()
            if step >= b.steps - max(1, b.steps // 10):
                tail.append(value)
            if progress is not None:
                progress(step + 1, value)
        self.model.eval()
        return sum(tail) / len(tail)

    def _predictions(self, texts: list[str], batch_size: int) -> Iterator[tuple[Any, Any, list[int]]]:
        """Per batch: the logits of every real next-token position (each text read from the separator on, cut to
        the window), their target tokens, and how many of them each text has."""
        torch = self.torch
        sequences = [[self.separator, *ids][: self.budget.block_size] for ids in self._encode(texts)]
        with torch.no_grad():
            for i in range(0, len(sequences), batch_size):
                chunk = sequences[i : i + batch_size]
                width = max(len(s) for s in chunk)
                ids = torch.tensor([s + [self.separator] * (width - len(s)) for s in chunk])
                mask = torch.tensor([[1] * len(s) + [0] * (width - len(s)) for s in chunk])
                hidden = self.model.transformer(input_ids=ids, attention_mask=mask).last_hidden_state[:, :-1]
                valid = mask[:, 1:].bool()
                logits = self.model.lm_head(hidden[valid])  # the vocabulary projection for real positions only
                yield logits, ids[:, 1:][valid], [len(s) - 1 for s in chunk]

    def score(self, texts: list[str], batch_size: int = 32) -> NextTokenScore:
        """Predict every token of each text from the separator and the tokens before it."""
        torch = self.torch
        total_nll, correct, count = 0.0, 0, 0
        for logits, targets, _ in self._predictions(texts, batch_size):
            total_nll += float(torch.nn.functional.cross_entropy(logits, targets, reduction="sum"))
            correct += int((logits.argmax(-1) == targets).sum())
            count += len(targets)
        if count == 0:
            return NextTokenScore(accuracy=math.nan, perplexity=math.nan, tokens=0)
        return NextTokenScore(accuracy=correct / count, perplexity=math.exp(total_nll / count), tokens=count)

    def token_nll(self, texts: list[str], batch_size: int = 32) -> list[np.ndarray]:
        """Every predicted token's NLL (nats) per text, read as `score` reads it: what membership attacks need."""
        out: list[np.ndarray] = []
        for logits, targets, lengths in self._predictions(texts, batch_size):
            nll = self.torch.nn.functional.cross_entropy(logits, targets, reduction="none").numpy().astype(float)
            out += np.split(nll, np.cumsum(lengths)[:-1])
        return out
