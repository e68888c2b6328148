"""GPU check of the transformers engine and the similarity matmul, side by side, in one short run.

RANDOM WEIGHTS: THROUGHPUT/MEMORY ONLY. The models are built from their configs with random weights
(SmolLM2-135M's architecture, and a Qwen2.5-0.5B-shaped model with a 152k vocabulary), because model
weights cannot travel to the GPU machine; no quality is measured or implied. It needs torch, transformers,
numpy, scipy, pyyaml, faiss-cpu and pydantic only: no Ray, no vLLM, no hub. Each figure is a ratio measured
in the same run:

* generation through `TransformersGenerator` with per-prompt keyed sampling (a row's samples depend on its
  own seed only); tokens/s and peak memory;
* NLL scoring: the chunked path (at most LOGITS_CHUNK_BYTES of float32 logits at once) vs all logits of
  a micro-batch at once; texts/s and peak memory;
* the similarity filter's search through its own code (rpsg_ray.similarity): exact and IVF on the CPU (FAISS)
  vs exact on the GPU as the config's `device: cuda` resolves it; the drops must agree.

    python benchmarks/gpu_check.py --tokenizer DIR            # on the GPU machine (about 4 minutes on an H200)
    python benchmarks/gpu_check.py --tokenizer DIR --device cpu --quick   # a smoke run on CPU

DIR holds the SmolLM2 tokenizer and config (the packaged model's folder without model.safetensors).
Results: the table printed last, and gpu_check.json + gpu_check.md in $OUT (or --out).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
LABEL = "random weights: throughput/memory only"
QWEN_05B_SHAPE = dict(  # Qwen2.5-0.5B's published dimensions
    hidden_size=896,
    intermediate_size=4864,
    num_hidden_layers=24,
    num_attention_heads=14,
    num_key_value_heads=2,
    vocab_size=151_936,
    max_position_embeddings=32_768,
    tie_word_embeddings=True,
)
TINY_SHAPE = dict(
    hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=2, num_key_value_heads=1
)
WORDS = [
    "rent",
    "bill",
    "late",
    "job",
    "shift",
    "bank",
    "loan",
    "paid",
    "month",
    "week",
    "car",
    "repair",
    "food",
    "bus",
    "school",
    "kids",
    "landlord",
    "notice",
    "savings",
    "account",
    "credit",
    "card",
    "debt",
    "overtime",
    "manager",
    "hours",
    "cut",
    "budget",
    "groceries",
    "insurance",
    "doctor",
]


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--tokenizer", type=Path, required=True, help="folder with SmolLM2's tokenizer and config.json")
    p.add_argument("--device", choices=["cuda", "cpu"], default=None, help="default: cuda when available")
    p.add_argument("--quick", action="store_true", help="tiny sizes (a CPU smoke run)")
    p.add_argument("--out", type=Path, default=Path(os.environ["OUT"]) if os.environ.get("OUT") else None)
    return p.parse_args()


class Meter:
    """Wall time and peak device memory of one measured block."""

    def __init__(self, torch: Any, device: str) -> None:
        self.torch, self.device = torch, device

    def __enter__(self) -> Meter:
        if self.device == "cuda":
            self.torch.cuda.synchronize()
            self.torch.cuda.reset_peak_memory_stats()
        self.start = time.perf_counter()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.device == "cuda":
            self.torch.cuda.synchronize()
            self.peak_gib = self.torch.cuda.max_memory_allocated() / 2**30
        else:
            self.peak_gib = float("nan")
        self.seconds = time.perf_counter() - self.start


def build_model(tokenizer_dir: Path, target: Path, shape: dict[str, Any], architecture: str) -> None:
    """A causal LM from SmolLM2's config with `shape` applied, random weights, saved with the tokenizer."""
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer, Qwen2Config

    torch.manual_seed(0)
    base = AutoConfig.from_pretrained(tokenizer_dir)
    if architecture == "qwen2":
        config = Qwen2Config(bos_token_id=base.bos_token_id, eos_token_id=base.eos_token_id, **shape)
    else:
        config = base
        for key, value in shape.items():
            setattr(config, key, value)
    model = AutoModelForCausalLM.from_config(config, dtype=torch.bfloat16)
    model.save_pretrained(target)
    AutoTokenizer.from_pretrained(tokenizer_dir).save_pretrained(target)
    if (tokenizer_dir / "generation_config.json").exists() and architecture != "qwen2":
        shutil.copy(tokenizer_dir / "generation_config.json", target)


def texts(n: int, words: int, seed: int) -> list[str]:
    import numpy as np

    rng = np.random.default_rng(seed)
    return [" ".join(rng.choice(WORDS, size=int(rng.integers(words // 2, words)))) for _ in range(n)]


def generation(model_dir: Path, prompts: int, max_tokens: int, torch: Any, device: str) -> dict[str, Any]:
    from rpsg_ray.engines.base import EngineSpec, Sampling
    from rpsg_ray.engines.transformers_engine import TransformersGenerator

    chats = [[{"role": "user", "content": f"Rewrite this post: {t}"}] for t in texts(prompts, 60, 1)]
    seeds = list(range(prompts))
    sampling = Sampling(n=1, max_tokens=max_tokens, temperature=1.0, top_p=0.95, top_k=50)
    out: dict[str, Any] = {"prompts": prompts, "max_tokens": max_tokens}
    spec = EngineSpec(kind="transformers", model=str(model_dir), dtype="bfloat16", max_model_len=2048)
    engine = TransformersGenerator(str(model_dir), spec)
    engine.generate(chats[:2], Sampling(n=1, max_tokens=2), seeds[:2])  # warm-up
    with Meter(torch, device) as m:
        done = engine.generate(chats, sampling, seeds)
    tokens = sum(c.tokens for c in done)
    out["seeded_per_prompt"] = {
        "seconds": m.seconds,
        "tokens": tokens,
        "tokens_per_s": tokens / m.seconds,
        "peak_gib": m.peak_gib,
    }
    return out


def scoring(model_dir: Path, n_texts: int, words: int, torch: Any, device: str) -> dict[str, Any]:
    from rpsg_ray.engines.base import EngineSpec
    from rpsg_ray.engines.transformers_engine import TransformersGenerator

    corpus = texts(n_texts, words, 2)
    engine = TransformersGenerator(
        str(model_dir), EngineSpec(kind="transformers", model=str(model_dir), max_model_len=2048)
    )
    engine.nll(corpus[:2])  # warm-up
    out: dict[str, Any] = {"texts": n_texts, "tokens": sum(len(engine.tokenizer(t)["input_ids"]) for t in corpus)}
    chunked = engine.chunk_tokens
    results = {}
    for label, chunk in (("chunked", chunked), ("all_logits_of_a_micro_batch", 10**9)):
        engine.chunk_tokens = chunk
        with Meter(torch, device) as m:
            results[label] = engine.nll(corpus)
        out[label] = {
            "seconds": m.seconds,
            "texts_per_s": n_texts / m.seconds,
            "tokens_per_s": out["tokens"] / m.seconds,
            "peak_gib": m.peak_gib,
        }
    out["chunk_tokens"] = chunked
    out["max_abs_diff"] = max(abs(a - b) for a, b in zip(*results.values(), strict=True))
    del engine
    if device == "cuda":
        torch.cuda.empty_cache()
    return out


THRESHOLD = 0.9  # the filter's default


def unit(rng: Any, n: int, dim: int) -> Any:
    import numpy as np

    v = rng.standard_normal((n, dim), dtype=np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def similarity(index_rows: int, queries: int, dim: int, device: str) -> dict[str, Any]:
    """The similarity filter's own search code (rpsg_ray.similarity) over an index of random unit vectors, a
    tenth of the queries planted near-duplicates (cosine 0.9-1 to a stored vector): exact FAISS search on
    the CPU, the approximate index of the CPU data plane (IVF, fp16, exact re-check; built, tuned and
    recall-measured as in a run), and on a GPU the exact search that `device: cuda` resolves to (torch on CUDA
    where FAISS has no GPU). Rates are per query; each searcher must drop the queries exact search drops."""
    import numpy as np

    from rpsg_ray.config import SimilarityFilterConfig
    from rpsg_ray.similarity.build import build_shards
    from rpsg_ray.similarity.recall import planted_probes
    from rpsg_ray.similarity.search import make_searcher, max_similarity

    rng = np.random.default_rng(3)
    vectors = unit(rng, index_rows, dim)
    planted = queries // 10
    q = np.concatenate([planted_probes(vectors, THRESHOLD, planted, rng), unit(rng, queries - planted, dim)])
    settings = {"cpu_exact": ("exact", "cpu"), "cpu_ivf_fp16": ("ivf", "cpu")}
    if device == "cuda":
        settings["gpu_exact"] = ("exact", "cuda")
    out: dict[str, Any] = {"index_rows": index_rows, "queries": queries, "planted": planted, "dim": dim}
    reference = None
    for name, (kind, where) in settings.items():
        stage = SimilarityFilterConfig(threshold=THRESHOLD, index={"kind": kind, "device": where})
        start = time.perf_counter()
        shards, report = build_shards(vectors, stage, seed=3)
        searcher = make_searcher(shards[0], stage.index, 1.0 if where == "cuda" else 0.0, stage.block_rows)
        built = time.perf_counter() - start
        max_similarity(searcher, vectors, q[:16], THRESHOLD, stage.index.margin, stage.index.candidates)  # warm-up
        start = time.perf_counter()
        best = max_similarity(searcher, vectors, q, THRESHOLD, stage.index.margin, stage.index.candidates)
        seconds = time.perf_counter() - start
        drops = best > THRESHOLD
        reference = drops if reference is None else reference
        out[name] = {
            "searcher": type(searcher).__name__,
            "search": report["search"],
            "recall": report["recall"],
            "build_seconds": built,
            "queries_per_s": queries / seconds,
            "drops": int(drops.sum()),
            "same_drops_as_cpu_exact": bool((drops == reference).all()),
        }
    return out


def table(result: dict[str, Any]) -> str:
    rows = [f"## GPU check ({LABEL}) on {result['device_name']}", "", "| measure | value |", "|---|---|"]
    for model, r in result["models"].items():
        g, s = r["generation"], r["nll"]
        rows += [
            f"| {model}: generate tokens/s, seeded per prompt | {g['seeded_per_prompt']['tokens_per_s']:,.0f} "
            f"(peak {g['seeded_per_prompt']['peak_gib']:.2f} GiB) |",
            f"| {model}: NLL texts/s chunked | {s['chunked']['texts_per_s']:,.1f} "
            f"(peak {s['chunked']['peak_gib']:.2f} GiB) |",
            f"| {model}: NLL texts/s all logits | {s['all_logits_of_a_micro_batch']['texts_per_s']:,.1f} "
            f"(peak {s['all_logits_of_a_micro_batch']['peak_gib']:.2f} GiB; max |Δ| {s['max_abs_diff']:.1e}) |",
        ]
    sim = result["similarity"]
    shape = f"{sim['index_rows']:,} × {sim['dim']}, {sim['planted']:,} of {sim['queries']:,} queries planted"
    for name in ("cpu_exact", "cpu_ivf_fp16", "gpu_exact"):
        if name in sim:
            r = sim[name]
            rows.append(
                f"| similarity {shape}: {name} ({r['searcher']}, {r['search']}) queries/s | {r['queries_per_s']:,.0f} "
                f"(×{r['queries_per_s'] / sim['cpu_exact']['queries_per_s']:.1f}; build {r['build_seconds']:.1f} s; "
                f"recall {r['recall']:.4f}; drops {r['drops']:,}, same as exact: {r['same_drops_as_cpu_exact']}) |"
            )
    rows.append(f"| wall time s | {result['wall_seconds']:.0f} |")
    return "\n".join(rows)


def main() -> int:
    args = parse_args()
    if args.device == "cpu":
        os.environ["CUDA_VISIBLE_DEVICES"] = ""  # the engines pick the device the way a CPU Ray actor does
    sys.path.insert(0, str(ROOT))
    import torch
    import transformers

    device = "cuda" if torch.cuda.is_available() else "cpu"
    if args.device == "cuda" and device != "cuda":
        print("error: --device cuda but torch sees no GPU", file=sys.stderr)
        return 2
    started = time.perf_counter()
    quick = args.quick
    models = {"smollm2-135m-shape": ("llama", TINY_SHAPE if quick else {})}
    if not quick:
        models["qwen2.5-0.5b-shape"] = ("qwen2", QWEN_05B_SHAPE)
    result: dict[str, Any] = {
        "label": LABEL,
        "device": device,
        "device_name": torch.cuda.get_device_name() if device == "cuda" else platform.processor() or "cpu",
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "quick": quick,
        "models": {},
    }
    with tempfile.TemporaryDirectory() as tmp:
        for name, (architecture, shape) in models.items():
            folder = Path(tmp) / name
            build_model(args.tokenizer, folder, shape, architecture)
            print(f"{name}: generation ...", flush=True)
            gen = generation(folder, 8 if quick else 256, 8 if quick else 64, torch, device)
            print(f"{name}: NLL ...", flush=True)
            nll = scoring(folder, 16 if quick else 512, 40 if quick else 300, torch, device)
            result["models"][name] = {"generation": gen, "nll": nll}
            shutil.rmtree(folder)
    print("similarity ...", flush=True)
    sizes = (20_000, 500, 384) if quick else (1_000_000, 20_000, 384)
    result["similarity"] = similarity(*sizes, device)
    result["wall_seconds"] = time.perf_counter() - started
    md = table(result)
    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / "gpu_check.json").write_text(json.dumps(result, indent=2))
        (args.out / "gpu_check.md").write_text(md + "\n")
    print(md)
    return 0


if __name__ == "__main__":
    sys.exit(main())
