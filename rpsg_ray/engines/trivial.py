"""Trivially fast engines for data-plane benchmarks and plumbing tests. Named as such: they are
not models, and no quality claim is ever made with them."""

from __future__ import annotations

import hashlib
import time

import numpy as np

from rpsg_ray.engines.base import Chat, Completion, Sampling

DIM = 16


class EchoGenerator:
    """Returns the last user message, words in order or reversed, n times; `delay_s` per call simulates latency."""

    def __init__(self, delay_s: float = 0.0) -> None:
        self.delay_s = delay_s

    def generate(self, chats: list[Chat], sampling: Sampling, seeds: list[int]) -> list[Completion]:
        time.sleep(self.delay_s)
        out = []
        for chat, seed in zip(chats, seeds, strict=True):
            words = chat[-1]["content"].split()[: sampling.max_tokens]
            texts = [" ".join(words[::-1] if (seed + i) % 2 else words) for i in range(sampling.n)]
            out.append(Completion(texts=texts, tokens=sum(len(t.split()) for t in texts)))
        return out


class LengthScorer:
    """'NLL' = log of the word count: deterministic, per text, and free."""

    def nll(self, texts: list[str]) -> list[float]:
        return [float(np.log1p(len(t.split()))) for t in texts]


class HashingEmbedder:
    """Bag-of-words hashed into DIM buckets, L2-normalised."""

    def embed(self, texts: list[str]) -> np.ndarray:
        out = np.zeros((len(texts), DIM), dtype=np.float32)
        for i, text in enumerate(texts):
            for word in text.lower().split():
                out[i, hashlib.blake2b(word.encode(), digest_size=2).digest()[0] % DIM] += 1.0
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        return out / np.maximum(norms, 1e-9)
