"""Both generator engines on the real packaged model; NLL is per text and matches a direct computation."""

from __future__ import annotations

import os

import pytest

from rpsg_ray.engines.base import EngineSpec, Sampling
from rpsg_ray.engines.registry import SMOLLM2, load_generator, resolve_model_path

CHATS = [
    [{"role": "system", "content": "You write short movie reviews."}, {"role": "user", "content": "A dull thriller."}],
    [{"role": "system", "content": "You write short movie reviews."}, {"role": "user", "content": "A warm comedy."}],
]
TEXTS = ["The film is a tedious, overlong mess with no heart at all.", "zxq vbn lkj qwe poi mnb", "I loved it."]


@pytest.fixture(scope="module")
def vllm_engine():
    os.environ.update(
        {
            "VLLM_ENABLE_V1_MULTIPROCESSING": "0",
            "VLLM_CPU_KVCACHE_SPACE": "1",
            "VLLM_CPU_OMP_THREADS_BIND": "nobind",
            "VLLM_LOGGING_LEVEL": "WARNING",
        }
    )
    return load_generator(EngineSpec(kind="vllm", model=SMOLLM2))


@pytest.fixture(scope="module")
def hf_engine():
    return load_generator(EngineSpec(kind="transformers", model=SMOLLM2, dtype="float32"))


@pytest.mark.parametrize("engine_name", ["vllm_engine", "hf_engine"])
def test_generate_shape(engine_name: str, request: pytest.FixtureRequest) -> None:
    engine = request.getfixturevalue(engine_name)
    out = engine.generate(CHATS, Sampling(n=3, max_tokens=24), [1, 2])
    assert len(out) == 2 and all(len(c.texts) == 3 for c in out)
    assert all(c.tokens > 0 for c in out)
    assert sum(bool(t.strip()) for c in out for t in c.texts) >= 5  # real text, not blanks
    assert len({t for c in out for t in c.texts}) >= 4  # n samples differ


def test_vllm_seeded_generation_is_reproducible(vllm_engine) -> None:
    a = vllm_engine.generate(CHATS, Sampling(n=2, max_tokens=16), [5, 6])
    b = vllm_engine.generate(CHATS[::-1], Sampling(n=2, max_tokens=16), [6, 5])
    assert a[0].texts == b[1].texts and a[1].texts == b[0].texts  # per-request seeds, not batch order


def _direct_nll(text: str) -> float:
    """Token-by-token NLL with a plain forward pass per text (no batching, no padding)."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    path = resolve_model_path(SMOLLM2)
    tok = AutoTokenizer.from_pretrained(path)
    model = AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32).eval()
    ids = tok(text, return_tensors="pt", add_special_tokens=False)["input_ids"]
    with torch.no_grad():
        logprobs = torch.log_softmax(model(ids).logits[0, :-1].float(), dim=-1)
    return float(-logprobs.gather(1, ids[0, 1:, None]).mean())


def test_nll_is_per_text_and_matches_direct(hf_engine, vllm_engine) -> None:
    hf = hf_engine.nll(TEXTS)
    assert len(set(round(x, 4) for x in hf)) == 3  # not a batch mean
    assert hf[1] > hf[0]  # gibberish is less likely than prose
    for text, value in zip(TEXTS, hf, strict=True):
        assert value == pytest.approx(_direct_nll(text), abs=1e-3)
    for a, b in zip(vllm_engine.nll(TEXTS), hf, strict=True):
        assert a == pytest.approx(b, abs=0.1)  # bf16 vLLM vs fp32 transformers: bf16 rounding only
