"""peer_augpe: AUG-PE by its authors' code (Microsoft's Private Evolution library, benchmarks/peers/dpsda) beside
this project's AUG-PE (on its vLLM engine and on its transformers engine, which is what the peer generates
with) and RPSG, in one run on one machine: the same model (SmolLM2-135M-Instruct, packaged weights), embedder
(MiniLM), private data (the demo corpus), final sample count N, ε and, for the two AUG-PEs, T and k.

Each repeat runs every system once, alternating (peer, ours on transformers, ours on vLLM, for each T×k, then
RPSG), so drift of the machine falls on all of them alike. Per system and setting: seconds and tokens per final
sample (median over repeats), the LLM's share of the wall time, and, from one `rpsg evaluate` over the first
repeat of each, downstream accuracy, MAUVE and the defect rate. Then this project's AUG-PE (vLLM) at every T of
`--curve` (k fixed), so the cost at which AUG-PE reaches RPSG's quality can be read off.

`--resume` keeps finished runs (the whole benchmark takes longer than one sitting on 2 cores at N = 32; the runs
then alternate within each sitting only). Needs the peer's venv: `bash benchmarks/peers/dpsda/setup.sh` (see
benchmarks/peers/README.md). Writes results/peer_augpe.{json,md}.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
PEER = ROOT / "benchmarks" / "peers" / "dpsda"
PEER_PYTHON = PEER / ".venv" / "bin" / "python"
PEER_ENV = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "2"}
TRANSFORMERS = {"augpe.engine.kind": "transformers", "augpe.engine.dtype": "auto"}
"""Our AUG-PE on the engine the peer generates with (transformers `generate`); bf16 where the CPU has it."""


def peer_run(
    out: Path, corpus: Path, n: int, t: int, k: int, epsilon: float, delta: float, tokens: int, resume: bool
) -> dict:
    """One run of the peer; with `resume`, a finished one (its timing written) is read back instead."""
    if not (resume and (out / "peer_timing.json").exists()):
        _run_peer(out, corpus, n, t, k, epsilon, delta, tokens)
    timing = json.loads((out / "peer_timing.json").read_text())
    return {
        "retained": timing["final_samples"],
        "wall_s": timing["wall_s"],
        "tokens": timing["tokens_generated"],
        "llm_s": timing["llm_s"],
    }


def _run_peer(out: Path, corpus: Path, n: int, t: int, k: int, epsilon: float, delta: float, tokens: int) -> None:
    from rpsg_ray.engines.registry import MINILM, SMOLLM2, resolve_model_path

    shutil.rmtree(out, ignore_errors=True)  # PE refuses an output folder that is not empty (an interrupted run)

    args = [str(PEER_PYTHON), str(PEER / "run_peer.py"), "--private", str(corpus), "--output", str(out)]
    args += ["--model", str(resolve_model_path(SMOLLM2)), "--embedder", str(resolve_model_path(MINILM))]
    args += ["--samples", str(n), "--iterations", str(t), "--variations", str(k), "--epsilon", str(epsilon)]
    args += ["--delta", repr(delta), "--max-tokens", str(tokens), "--threads", "2", "--seed", "0"]
    done = subprocess.run(args, capture_output=True, text=True, cwd=ROOT, env=PEER_ENV)
    if done.returncode != 0:
        sys.exit(f"peer failed:\n{done.stderr[-3000:]}")


def ours(method: str, out: Path, corpus: Path, sets: dict[str, object], resume: bool) -> dict[str, Any]:
    """One run of this project's method (with `resume`, a finished one is read back); the LLM's seconds from AUG-PE's
    generation phases (RPSG: its generation stages' busy seconds)."""
    from common import generate

    figures = generate(method, out, corpus, sets, resume=resume)
    full = json.loads((out / "private" / "manifest.json").read_text())
    if method == "augpe":
        phases = full["release"]["phases"]
        figures["llm_s"] = phases["init"]["seconds"] + sum(p["seconds"] for p in phases["iterations"])
    else:
        busy = full["stage_busy_seconds"]
        figures["llm_s"] = sum(v for s, v in busy.items() if s in ("generate", "abstract", "rewrite_1", "rewrite_2"))
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--samples", type=int, default=32, help="N: final samples (RPSG: seeds)")
    parser.add_argument("--settings", nargs="+", default=["2x2", "10x6"], help="AUG-PE T x k, peer and ours")
    parser.add_argument("--curve", type=int, nargs="*", default=[1, 2, 5, 10], help="T of ours' cost-quality curve")
    parser.add_argument("--curve-k", type=int, default=6)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--epsilon", type=float, default=4.0)
    parser.add_argument("--max-tokens", type=int, default=64, help="per LLM call, peer and ours alike")
    parser.add_argument("--work", default=str(ROOT / "runs" / "bench-peer-augpe"))
    parser.add_argument(
        "--resume", action="store_true", help="keep finished runs and a covering evaluate (an interrupted one reruns)"
    )
    args = parser.parse_args()
    if not PEER_PYTHON.exists():
        sys.exit("the peer's venv is missing: bash benchmarks/peers/dpsda/setup.sh (benchmarks/peers/README.md)")
    import pyarrow.parquet as pq
    from common import DEMO, evaluate, save

    from rpsg_ray.config import load_config
    from rpsg_ray.privacy.accountant import default_delta

    corpus = ROOT / load_config(DEMO).input.path
    public = pq.read_metadata(corpus).num_rows  # a published design parameter here, as in rpsg_vs_augpe
    delta, work, started = default_delta(public), Path(args.work), time.time()
    settings = [tuple(int(x) for x in s.split("x")) for s in args.settings]

    def augpe_sets(t: int, k: int) -> dict[str, object]:
        return {
            "augpe.samples": args.samples,
            "augpe.iterations": t,
            "augpe.variations": k,
            "augpe.epsilon": args.epsilon,
            "augpe.max_tokens": args.max_tokens,
            "privacy.public_records": public,
        }

    runs: dict[tuple[str, str], list[tuple[Path, dict[str, Any]]]] = {}
    for r in range(args.repeats):
        for t, k in settings:
            setting = f"T={t}, k={k}"
            out = work / f"peer-T{t}k{k}-r{r}"
            figures = peer_run(out, corpus, args.samples, t, k, args.epsilon, delta, args.max_tokens, args.resume)
            runs.setdefault(("peer AUG-PE (DPSDA, transformers)", setting), []).append((out, figures))
            for engine, extra in (("transformers", TRANSFORMERS), ("vLLM", {})):
                out = work / f"augpe-{engine}-T{t}k{k}-r{r}"
                figures = ours("augpe", out, corpus, {**augpe_sets(t, k), **extra}, args.resume)
                runs.setdefault((f"AUG-PE ({engine})", setting), []).append((out, figures))
        out = work / f"rpsg-r{r}"
        figures = ours("rpsg", out, corpus, {"input.seeds": args.samples, "rpsg.epsilon": args.epsilon}, args.resume)
        runs.setdefault(("RPSG (vLLM)", f"K=4, {args.samples} seeds"), []).append((out, figures))
    for t in sorted(set(args.curve) - {t for t, k in settings if k == args.curve_k}):
        out = work / f"augpe-vLLM-T{t}k{args.curve_k}-curve"
        figures = ours("augpe", out, corpus, augpe_sets(t, args.curve_k), args.resume)
        runs[("AUG-PE (vLLM)", f"T={t}, k={args.curve_k}")] = [(out, figures)]
    quality = evaluate([repeats[0][0] for repeats in runs.values()], work / "evaluate", reuse=args.resume)
    rows = []
    for (system, setting), repeats in runs.items():
        figures = [f for _, f in repeats]
        per_sample = [f["wall_s"] / max(1, f["retained"]) for f in figures]
        q = quality[repeats[0][0]]
        rows.append(
            {
                "system": system,
                "setting": setting,
                "repeats": len(figures),
                "final_samples": figures[0]["retained"],
                "s_per_sample": statistics.median(per_sample),
                "tokens_per_sample": statistics.median(f["tokens"] / max(1, f["retained"]) for f in figures),
                "llm_share": statistics.median(f["llm_s"] / f["wall_s"] for f in figures),
                "accuracy": q["classifier_accuracy"]["mean"],
                "mauve": q["mauve"]["mean"],
                "defect_rate": q["defect_rate"]["mean"],
            }
        )
    rpsg = next(r for r in rows if r["system"].startswith("RPSG"))
    for t, k in settings:
        peer = next(r for r in rows if r["system"].startswith("peer") and r["setting"] == f"T={t}, k={k}")
        ratio = peer["s_per_sample"] / rpsg["s_per_sample"]
        print(f"peer AUG-PE s/sample ÷ RPSG s/sample at T={t}, k={k}: {ratio:.2f} (above 1: RPSG is faster)")
    print(
        save(
            "peer_augpe",
            {
                "setting": f"N={args.samples} final samples, ε={args.epsilon:g} (δ={delta:.3g}), {args.max_tokens} "
                f"tokens per call, {args.repeats} repeats alternating; peer: microsoft/DPSDA@{_pin()}",
                "verdict": f"measured in {time.time() - started:.0f} s",
                "note": "s_per_sample: wall seconds per final sample (median over repeats), start-up included; "
                "llm_share: the LLM calls' share of the wall time; quality from one rpsg evaluate over the first "
                "repeat of each (real test split of the demo corpus)",
                "commands": " ".join(sys.argv),
            },
            rows,
        )
    )


def _pin() -> str:
    return (PEER / ".venv" / "dpsda-pin.txt").read_text().split()[0]


if __name__ == "__main__":
    main()
