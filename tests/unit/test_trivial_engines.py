"""The trivially fast stand-in engines: vectorised, yet equal to their plain per-text definitions."""

from __future__ import annotations

import hashlib

import numpy as np

from rpsg_ray.engines.registry import load_classifier, load_embedder
from rpsg_ray.engines.trivial import DIM

TEXTS = ["A great film, I loved it", "", "  Boring  and DULL, a mess ", "good bad", "good\tgood bad\nworst worse"]


def per_text_embedding(text: str) -> np.ndarray:
    vec = np.zeros(DIM, dtype=np.float32)
    for word in text.lower().split():
        vec[int.from_bytes(hashlib.blake2b(word.encode(), digest_size=4).digest(), "little") % DIM] += 1.0
    return vec / max(float(np.linalg.norm(vec)), 1e-9)


def test_hashing_embedder_matches_the_per_word_definition() -> None:
    out = load_embedder("hashing").embed(TEXTS)
    assert out.shape == (len(TEXTS), 384) and out.dtype == np.float32  # all-MiniLM-L6-v2's dimension
    np.testing.assert_allclose(out, np.stack([per_text_embedding(t) for t in TEXTS]), atol=1e-6)
    assert load_embedder("hashing").embed([]).shape == (0, DIM)


def test_keyword_classifier_counts_word_lists() -> None:
    got = load_classifier("keywords").classify(TEXTS)
    assert [s.label for s in got] == ["positive", "unknown", "negative", "unknown", "negative"]
    assert got[0].confidence == 1.0 and got[4].confidence == 1 / 5  # 3 negative vs 2 positive words


def test_zero_shot_classifier_picks_the_closest_public_description() -> None:
    """The mechanism on the hashing stand-in (words shared with a description win); its accuracy with the real
    embedder on a real corpus is benchmarks/label_scorer.py's."""
    from rpsg_ray.engines.trivial import HashingEmbedder
    from rpsg_ray.engines.zero_shot import ZeroShotClassifier

    classes = {"1": "a question about sports and football", "2": "a question about cooking and recipes"}
    scorer = ZeroShotClassifier(HashingEmbedder(), classes)
    out = scorer.classify(["who won the football final", "best recipes for cooking rice", "sports or cooking"])
    assert [p.label for p in out[:2]] == ["1", "2"]
    assert out[0].confidence > 0.9 and out[2].confidence < out[0].confidence
    assert scorer.classify([]) == []
