"""private_prediction_cost: what rpsg_dp's lock-step decoding costs against plain generation of the same drafts, on
the same model, engine, threads and machine, alternating, with repeats.

Four ways to decode the same G groups x m drafts of at most T tokens (the packaged SmolLM2-135M, transformers):
- private: the lock-step decoder with s records per group (each group's shared prefix read once, then the s + 1
  prompts' own tails; m drafts on copied caches);
- private, whole prompts: the same with every prompt read whole (`LockstepDecoder.share_prefix` off: before);
- public-only: the same decoder with no record (one prompt per group): the decoder's own floor;
- plain: the transformers engine's `generate` on the public prompt, m samples each (what DP-SGD's and AUG-PE's
  transformers paths run).
Reports seconds and tokens per draft, and the ratios private / plain and private / public-only. Fixed cost (model
load) is measured once and kept out of the per-draft figures. `--examples K` shows K of the demo config's public
examples in every prompt of a group, as rpsg_dp does by default (0: none, as first measured).

    python benchmarks/private_prediction_cost.py --groups 4 --drafts 4 --group-size 16 --tokens 48 --repeats 3
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))


def main() -> None:
    import pyarrow.parquet as pq
    from common import save

    from rpsg_ray.config import Domain, load_config
    from rpsg_ray.demo_data import write_demo_corpus
    from rpsg_ray.engines.base import EngineSpec, Sampling
    from rpsg_ray.engines.lockstep import GroupPrompt, LockstepDecoder, TokenRule
    from rpsg_ray.engines.registry import SMOLLM2, resolve_model_path
    from rpsg_ray.methods.rpsg_dp import example_chat, public_chat
    from rpsg_ray.privacy.private_prediction import calibrate_clip

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--groups", type=int, default=4, help="G groups decoded per call")
    parser.add_argument("--drafts", type=int, default=4, help="m drafts per group")
    parser.add_argument("--group-size", type=int, default=16, help="s records per group")
    parser.add_argument("--tokens", type=int, default=48, help="T, tokens per draft at most")
    parser.add_argument("--epsilon", type=float, default=4.0)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--examples", type=int, default=0, help="public examples shown in every prompt of a group")
    parser.add_argument("--work", default="runs/bench-private-prediction")
    args = parser.parse_args()

    domain = Domain(name="movie reviews", item="movie review")
    shown = load_config(Path(__file__).resolve().parents[1] / "configs" / "demo.yaml").domain.examples[: args.examples]
    records = pq.read_table(write_demo_corpus(Path(args.work) / "corpus.parquet", 2000), columns=["text", "label"])
    texts, labels = records.column("text").to_pylist(), records.column("label").to_pylist()
    spec = EngineSpec(kind="transformers", model=SMOLLM2, dtype="auto", threads=args.threads)
    started = time.perf_counter()
    decoder = LockstepDecoder(resolve_model_path(SMOLLM2), spec)
    load_s = time.perf_counter() - started
    clip = calibrate_clip(args.epsilon, 1e-5, args.group_size, 1.0, args.tokens, args.drafts)
    rule = TokenRule(clip, args.group_size, 1.0, 50)
    sampling = Sampling(n=args.drafts, temperature=1.0, top_p=1.0, top_k=50, max_tokens=args.tokens)

    def batch(repeat: int, with_records: bool) -> list[GroupPrompt]:
        out = []
        for g in range(args.groups):
            label = "positive" if g % 2 else "negative"
            mine = [t for t, lab in zip(texts, labels, strict=True) if lab == label]
            start = (repeat * args.groups + g) * args.group_size
            chats = [example_chat(domain, label, t, shown) for t in mine[start : start + args.group_size]]
            seeds = [1000 * repeat + 10 * g + j for j in range(args.drafts)]
            out.append(GroupPrompt(public_chat(domain, label, shown), chats if with_records else [], seeds))
        return out

    def private(repeat: int) -> tuple[float, int]:
        decoder.share_prefix = True
        return _timed(lambda: decoder.decode(batch(repeat, True), rule, args.tokens, ()))

    def whole_prompts(repeat: int) -> tuple[float, int]:
        decoder.share_prefix = False
        return _timed(lambda: decoder.decode(batch(repeat, True), rule, args.tokens, ()))

    def public_only(repeat: int) -> tuple[float, int]:
        return _timed(lambda: decoder.decode(batch(repeat, False), rule, args.tokens, ()))

    def plain(repeat: int) -> tuple[float, int]:
        groups = batch(repeat, False)
        chats, seeds = [g.public for g in groups], [g.seeds[0] for g in groups]
        t0 = time.perf_counter()
        done = decoder.generate(chats, sampling, seeds)
        return time.perf_counter() - t0, sum(c.tokens for c in done)

    ways = {"private": private, "private, whole prompts": whole_prompts, "public-only": public_only, "plain": plain}
    seconds: dict[str, list[float]] = {w: [] for w in ways}
    tokens: dict[str, list[int]] = {w: [] for w in ways}
    for repeat in range(args.repeats):
        for name, way in ways.items():  # alternating, so drift on the machine hits every way alike
            s, n = way(repeat)
            seconds[name].append(s)
            tokens[name].append(n)
    drafts = args.groups * args.drafts
    per_draft = {w: statistics.median(s) / drafts for w, s in seconds.items()}
    table = [
        {
            "way": w,
            "drafts": drafts,
            "s per draft (median)": per_draft[w],
            "s per draft (min)": min(s) / drafts,
            "tokens per draft": statistics.mean(tokens[w]) / drafts,
            "rows per step": drafts * (args.group_size + 1) if w.startswith("private") else drafts,
        }
        for w, s in seconds.items()
    ]
    ratio = per_draft["private"] / per_draft["plain"]
    print(
        save(
            "private_prediction_cost",
            {
                "setting": f"G={args.groups} groups x m={args.drafts} drafts, s={args.group_size}, T={args.tokens}, "
                f"epsilon={args.epsilon} (clip {clip:.3g}), {args.examples} public examples per prompt, "
                f"{args.threads} threads, {args.repeats} repeats",
                "verdict": f"private / plain = {ratio:.1f}x seconds per draft; private / public-only = "
                f"{per_draft['private'] / per_draft['public-only']:.1f}x; whole prompts / shared prefix = "
                f"{per_draft['private, whole prompts'] / per_draft['private']:.2f}x; model load {load_s:.1f} s "
                "(fixed, once)",
                "note": "plain: the transformers engine's generate on the public prompt (m samples each); tokens per "
                "draft differ where drafts stop early",
            },
            table,
        )
    )


def _timed(decode: Any) -> tuple[float, int]:
    t0 = time.perf_counter()
    drafted = decode()
    return time.perf_counter() - t0, sum(d.tokens for group in drafted for d in group)


if __name__ == "__main__":
    main()
