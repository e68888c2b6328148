"""Trivially fast engines for data-plane benchmarks and plumbing tests. Named as such: they are
not models, and no quality claim is ever made with them. The embedder and classifier work on whole
batches in Arrow compute kernels, so at scale the time measured is the data plane's, not theirs."""

from __future__ import annotations

import hashlib
import time

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from rpsg_ray.engines.base import Chat, Completion, Prediction, Sampling, prompt_budgets

DIM = 384  # the dimension of all-MiniLM-L6-v2, so the similarity index is benchmarked at a real size
POSITIVE_WORDS = r"\b(good|great|best|love|loved|fun|funny|fine|beautiful|brilliant|enjoy|enjoyable|wonderful)\b"
NEGATIVE_WORDS = r"\b(bad|worst|boring|dull|awful|mess|poor|fails|stupid|waste|flat|tedious|worse)\b"


class EchoGenerator:
    """Returns the last user message n times, each sample dropping every m-th word (m = 2..5, chosen by the
    seed) and in order or reversed, so the samples of one prompt differ (the selection has something to
    choose between) and are reproducible per seed; `delay_s` per call simulates latency."""

    def __init__(self, delay_s: float = 0.0) -> None:
        self.delay_s = delay_s

    def generate(
        self, chats: list[Chat], sampling: Sampling, seeds: list[int], max_tokens: list[int] | None = None
    ) -> list[Completion]:
        time.sleep(self.delay_s)
        out = []
        for chat, seed, budget in zip(chats, seeds, prompt_budgets(sampling, len(chats), max_tokens), strict=True):
            words = chat[-1]["content"].split()[:budget]
            texts = [" ".join(_thin(words, seed + i)[:: -1 if (seed + i) % 2 else 1]) for i in range(sampling.n)]
            out.append(Completion(texts=texts, tokens=sum(len(t.split()) for t in texts)))
        return out


def _thin(words: list[str], draw: int) -> list[str]:
    step = 2 + draw % 4
    return [w for j, w in enumerate(words) if (j + 1) % step] or words


class LengthScorer:
    """'NLL' = log of the word count: deterministic, per text, and free."""

    def nll(self, texts: list[str]) -> list[float]:
        return [float(np.log1p(len(t.split()))) for t in texts]


class HashingEmbedder:
    """STAND-IN embedder, not a model: bag of lower-cased words hashed into DIM buckets, L2-normalised.
    Only the distinct words of a batch are hashed in Python; splitting and counting are Arrow/numpy kernels."""

    def embed(self, texts: list[str]) -> np.ndarray:
        words = pc.utf8_split_whitespace(pc.utf8_lower(pa.array(texts, pa.string())))
        owner = pc.list_parent_indices(words).to_numpy()
        encoded = pc.dictionary_encode(pc.list_flatten(words))
        distinct = encoded.dictionary.to_pylist()
        bucket = np.array([bucket_of(w) for w in distinct], np.int64)
        keep = np.array([bool(w) for w in distinct], bool)[encoded.indices.to_numpy()]
        cells = owner[keep] * DIM + bucket[encoded.indices.to_numpy()[keep]]
        out = np.bincount(cells, minlength=len(texts) * DIM).astype(np.float32).reshape(len(texts), DIM)
        return out / np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-9)


def bucket_of(word: str) -> int:
    return int.from_bytes(hashlib.blake2b(word.encode(), digest_size=4).digest(), "little") % DIM


class KeywordClassifier:
    """Sentiment = which of two short word lists occurs more often (ties: unknown), counted by a regex kernel."""

    def classify(self, texts: list[str]) -> list[Prediction]:
        lowered = pc.utf8_lower(pa.array(texts, pa.string()))
        pos = pc.count_substring_regex(lowered, POSITIVE_WORDS).to_numpy(zero_copy_only=False)
        neg = pc.count_substring_regex(lowered, NEGATIVE_WORDS).to_numpy(zero_copy_only=False)
        confidence = np.abs(pos - neg) / np.maximum(pos + neg, 1)
        labels = np.where(pos > neg, "positive", np.where(neg > pos, "negative", "unknown"))
        return [Prediction(str(lab), float(c)) for lab, c in zip(labels, confidence, strict=True)]
