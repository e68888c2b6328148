"""demo_profile: where `make demo`'s run phase spends its time on this machine, and the floor its CPU work sets.

Runs the demo's command (`rpsg generate --config configs/demo.yaml`, what `make demo` runs) `--runs` times for each
variant (the demo as configured, and the same with other placement settings, e.g. a pool per stage group),
alternating, each in a fresh interpreter as `make demo` does, on a machine nothing else uses. Per run: the wall
from interpreter start to the command's end, the manifest's phases, the CPU seconds the whole machine spent
meanwhile (from /proc/stat, so Ray's workers count), and each actor's constructor (from `ray.timeline`: its class
and wall). The floor is those CPU seconds over the machine's cores: no schedule finishes the same work sooner
here. Then, each in a fresh interpreter, the CPU seconds to import and load what the demo's actors load (a
worker's own imports, MiniLM, SmolLM2 on transformers and on vLLM, the redactor), so the cost of loading a model
once more can be read off.

    python benchmarks/demo_profile.py --runs 3

Target (issue #34): the run phase under 120 s alone on 2 cores, median of 3. Writes results/demo_profile.{json,md}.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import DEMO, ROOT, save

COMPONENTS = {
    "a worker's imports (Ray Data, rpsg_ray's stages)": "import ray.data, rpsg_ray.operators, rpsg_ray.rows",
    "MiniLM (sentence-transformers)": "from rpsg_ray.engines.registry import load_embedder as l; "
    "l(cfg.rpsg.similarity_filter.embedder).embed(['warm up'])",
    "SmolLM2 on transformers (the NLL scorer)": "from rpsg_ray.engines.registry import load_scorer as l; "
    "l(cfg.rpsg.nll_filter.engine.spec()).nll(['warm up'])",
    "SmolLM2 on vLLM (the generator)": "from rpsg_ray.engines.registry import load_generator as l; "
    "l(cfg.rpsg.rewrite.engine.spec())",
    "the redactor (Presidio, spaCy)": "from rpsg_ray.stages.redact import Redactor; "
    "Redactor(cfg.stages.redact, cfg.domain)(['warm up'])",
}
"""What the demo's actors load, each timed alone in a fresh interpreter (`cfg` is the demo config)."""
CORES = os.cpu_count() or 1
"""The machine's cores: /proc/stat counts all of them."""


def label(variant: str) -> str:
    """A variant's name in the results: its overrides, or the demo as configured."""
    return variant or "as configured"


def machine_cpu_seconds() -> float:
    """Busy CPU seconds of the whole machine since boot (user, nice, system, irq, softirq), from /proc/stat."""
    fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    busy = sum(int(fields[i]) for i in (0, 1, 2, 5, 6))
    return busy / os.sysconf("SC_CLK_TCK")


def one_run(out: Path, timeline: Path, sets: list[str]) -> None:
    """Body of a run's fresh interpreter: the demo's generate, then the timeline of every task and actor."""
    import psutil
    import ray

    from rpsg_ray.cli import main
    from rpsg_ray.config import load_config
    from rpsg_ray.runtime import start_ray

    # Ray is started here (as the command would start it) so it outlives the command for ray.timeline().
    start_ray(num_cpus=load_config(DEMO, sets).runtime.local_num_cpus)
    overrides = [arg for kv in sets for arg in ("--set", kv)]
    code = main(["generate", "--config", str(DEMO), "--output", str(out), "--overwrite", *overrides])
    wall = time.time() - psutil.Process().create_time()
    ray.timeline(filename=str(timeline))
    Path(str(timeline) + ".wall").write_text(f"{wall}\n")
    sys.exit(code)


def constructors(timeline: Path) -> dict[str, dict[str, float]]:
    """Actor constructors in a run's timeline: how many of each class, and their summed and longest wall."""
    found: dict[str, list[float]] = collections.defaultdict(list)
    for event in json.loads(timeline.read_text()):  # an actor's constructor: name "__init__", its class in "cat"
        if event.get("ph") == "X" and event.get("name") == "__init__":
            cls = event.get("cat", "").removeprefix("task::").removesuffix(".__init__")
            found[cls.removeprefix("MapWorker(MapBatches(").removesuffix("))")].append(event["dur"] / 1e6)
    return {cls: {"count": len(s), "sum_s": round(sum(s), 1), "max_s": round(max(s), 1)} for cls, s in found.items()}


def profile_run(work: Path, number: int, variant: str, resume: bool) -> dict[str, Any]:
    """One run's figures; with `resume`, a finished run's saved figures (its constructors re-read)."""
    out, timeline, saved = work / f"demo-{number}", work / f"timeline-{number}.json", work / f"run-{number}.json"
    kept = json.loads(saved.read_text()) if resume and saved.exists() else None
    if kept and kept["variant"] == label(variant):
        return {**kept, "constructors": constructors(timeline)}
    sets = [f"--set={kv}" for kv in variant.split(",") if kv]  # passed on to one_run's `rpsg generate`
    before, started = machine_cpu_seconds(), time.time()
    done = subprocess.run(
        [sys.executable, __file__, "--one-run", str(out), "--timeline", str(timeline), *sets],
        cwd=ROOT,
        env={**os.environ, "HF_HUB_OFFLINE": "1"},
        capture_output=True,
        text=True,
    )
    cpu, elapsed = machine_cpu_seconds() - before, time.time() - started
    if done.returncode != 0:
        sys.exit(f"demo run failed:\n{done.stderr[-3000:]}")
    manifest = json.loads((out / "private" / "manifest.json").read_text())
    wall = float(Path(str(timeline) + ".wall").read_text())
    figures = {
        "run": number,
        "variant": label(variant),
        "wall_s": round(wall, 1),
        "phases": manifest["phase_wall_seconds"],
        "stage_busy_s": manifest["stage_busy_seconds"],
        "tokens": sum(manifest["tokens_generated"].values()),
        "published": json.loads((out / "manifest.json").read_text())["synthetic_rows"],
        # the process and Ray's shutdown after it: the CPU they spent is the run's
        "machine_cpu_s": round(cpu, 1),
        "utilization": round(cpu / (CORES * elapsed), 2),
        "floor_s": round(cpu / CORES, 1),
        "constructors": constructors(timeline),
    }
    saved.write_text(json.dumps(figures, indent=1))
    return figures


def component_cost(label: str, body: str) -> dict[str, Any]:
    """CPU and wall seconds of a fresh interpreter that imports and loads one component (and exits)."""
    script = (
        "import resource, time; t = time.time()\n"
        f"from rpsg_ray.config import load_config; cfg = load_config({str(DEMO)!r})\n"
        f"{body}\n"
        "u = resource.getrusage(resource.RUSAGE_SELF); c = resource.getrusage(resource.RUSAGE_CHILDREN)\n"
        "print(u.ru_utime + u.ru_stime + c.ru_utime + c.ru_stime, time.time() - t)\n"
    )
    from rpsg_ray.operators import actor_env

    env = {**os.environ, "HF_HUB_OFFLINE": "1", **actor_env(threads=2)}  # what a 2-thread model actor sees
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"{label} failed:\n{done.stderr[-3000:]}")
    cpu, wall = (float(x) for x in done.stdout.split()[-2:])
    return {"component": label, "cpu_s": round(cpu, 1), "wall_s": round(wall, 1)}


def summary(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """One variant's medians over its runs, and the actor constructors of its first run."""
    first = runs[0]["constructors"]
    return {
        "median_wall_s": statistics.median(r["wall_s"] for r in runs),
        "median_floor_s": statistics.median(r["floor_s"] for r in runs),
        "constructors": "; ".join(  # the plan's actors; Ray's own ("module:Class") start in no time
            f"{cls} {c['count']}x {c['sum_s']} s" for cls, c in first.items() if ":" not in cls
        ),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3, help="runs of each variant, alternating")
    parser.add_argument(
        "--variants",
        nargs="+",
        default=["", "stages.fuse_all_stages=false"],
        help="config overrides per variant, comma-separated key=value ('' = the demo as configured); the first "
        "is judged",
    )
    parser.add_argument("--work", default=str(ROOT / "runs" / "bench-demo-profile"))
    parser.add_argument("--resume", action="store_true", help="keep the runs the work folder already holds")
    parser.add_argument("--one-run", help=argparse.SUPPRESS)
    parser.add_argument("--timeline", help=argparse.SUPPRESS)
    parser.add_argument("--set", action="append", default=[], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one_run:
        one_run(Path(args.one_run), Path(args.timeline), args.set)
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    order = [(n * len(args.variants) + i + 1, v) for n in range(args.runs) for i, v in enumerate(args.variants)]
    # alternating, so drift of the machine hits every variant alike
    runs = [profile_run(work, number, variant, args.resume) for number, variant in order]
    components = [component_cost(label, body) for label, body in COMPONENTS.items()]
    table = [
        {
            "run": r["run"],
            "variant": r["variant"],
            "wall s": r["wall_s"],
            **{f"{p} s": s for p, s in r["phases"].items()},
            "machine CPU s": r["machine_cpu_s"],
            "utilization": r["utilization"],
            "floor s": r["floor_s"],
            "tokens": r["tokens"],
            "published": r["published"],
        }
        for r in runs
    ]
    variants = {label(v): summary([r for r in runs if r["variant"] == label(v)]) for v in args.variants}
    judged = next(iter(variants.values()))
    payload = {
        "cores": CORES,
        "command": "python benchmarks/demo_profile.py --runs {} --variants {}".format(
            args.runs, " ".join(repr(v) for v in args.variants)
        ),
        "target": "make demo's run phase under 120 s alone on 2 cores (median of 3)",
        "variants": variants,
        "runs": runs,
        "components": components,
        "verdict": f"{next(iter(variants))}: median wall {judged['median_wall_s']:.0f} s, "
        f"{'met' if judged['median_wall_s'] < 120 else 'not met'}; its CPU work alone needs "
        f"{judged['median_floor_s']:.0f} s on {CORES} cores (median floor)",
        "note": " | ".join(
            f"{name}: median wall {v['median_wall_s']:.1f} s, floor {v['median_floor_s']:.1f} s; actor "
            f"constructors of its first run (count, summed wall): {v['constructors']}"
            for name, v in variants.items()
        )
        + " | loading one component in a fresh interpreter (CPU s, wall s): "
        + "; ".join(f"{c['component']} {c['cpu_s']}, {c['wall_s']}" for c in components),
    }
    print(save("demo_profile", payload, table))


if __name__ == "__main__":
    main()
