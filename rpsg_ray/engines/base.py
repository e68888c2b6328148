"""What a stage may ask of a model: generate n samples, score NLL, embed, classify, find entities.

Stages talk to these protocols only, so swapping vLLM for transformers (or CPU for GPU) is
one config line and never a code change.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, Protocol, runtime_checkable

import numpy as np

Chat = list[dict[str, str]]
"""An OpenAI-style message list: [{"role": "system"|"user"|"assistant", "content": ...}]."""


@dataclass(frozen=True)
class EngineSpec:
    """How to build a generator/scorer engine (a plain dataclass so engines stay config-free)."""

    kind: Literal["vllm", "transformers", "echo"]
    model: str
    dtype: str = "auto"
    max_model_len: int = 512
    threads: int | None = None
    tensor_parallel_size: int = 1
    gpu_memory_utilization: float = 0.85
    cpu_top_p: Literal["head", "vllm"] = "head"
    extra: dict[str, object] = field(default_factory=dict)


@dataclass(frozen=True)
class Sampling:
    """Decoding settings for one generate call; n completions per prompt."""

    n: int = 1
    temperature: float = 1.0
    top_p: float = 0.95
    top_k: int = 50
    min_p: float = 0.0
    """Keep only tokens at least min_p times as likely as the most likely one, after temperature (Nguyen et al.,
    "Turning up the heat: min-p sampling", 2024): a cut that follows the model's confidence. 0: off."""
    max_tokens: int = 128
    stop: tuple[str, ...] = ()
    """Strings that end a sample; the stop string itself is not returned."""


@dataclass(frozen=True)
class Completion:
    """The n texts generated for one prompt and how many tokens they cost."""

    texts: list[str]
    tokens: int


def prompt_budgets(sampling: Sampling, n_prompts: int, max_tokens: list[int] | None) -> list[int]:
    """Each prompt's token budget: its own where given, else ``sampling.max_tokens``."""
    budgets = max_tokens or [sampling.max_tokens] * n_prompts
    if len(budgets) != n_prompts:
        raise ValueError(f"{len(budgets)} token budgets for {n_prompts} prompts")
    return budgets


@runtime_checkable
class TextGenerator(Protocol):
    def generate(
        self, chats: list[Chat], sampling: Sampling, seeds: list[int], max_tokens: list[int] | None = None
    ) -> list[Completion]:
        """One Completion per chat; ``seeds[i]`` makes prompt i reproducible; ``max_tokens[i]`` (at most
        ``sampling.max_tokens``) is prompt i's own token budget, default ``sampling.max_tokens``."""
        ...


@runtime_checkable
class TextScorer(Protocol):
    def nll(self, texts: list[str]) -> list[float]:
        """Mean next-token negative log-likelihood of each text (nats/token), one value per text."""
        ...


class EmbedderEngine(Protocol):
    def embed(self, texts: list[str]) -> np.ndarray:
        """L2-normalised float32 embeddings, shape (len(texts), dim)."""
        ...


UNKNOWN = "unknown"
"""What a classifier answers when it cannot tell (a sentiment scorer on a neutral text)."""


@dataclass(frozen=True)
class Prediction:
    """A classifier's label for one text (one of its label set, or UNKNOWN) and its confidence in [0, 1]."""

    label: str
    confidence: float


class Classifier(Protocol):
    def classify(self, texts: list[str]) -> list[Prediction]: ...


@dataclass(frozen=True)
class Entity:
    start: int
    end: int
    label: str


class NerEngine(Protocol):
    def entities(self, texts: list[str]) -> list[list[Entity]]: ...
