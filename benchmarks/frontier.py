"""frontier: the privacy–utility–throughput frontier of RPSG, AUG-PE, DP-SGD and RUPTA over ε, measured in one
run on one corpus, one members/non-members/control split and one machine.

For each method and ε (`inf` = no noise): generate from the members (`rpsg audit split` of the demo corpus, with
`--one-run M` audit canaries planted by secret coins), then one `rpsg evaluate` over every run (downstream
accuracy and MAUVE at matched sizes, beside the real-data ceiling), then `rpsg audit run` of each run against the
held-out non-members with the in-domain negative control, the re-run attack for the per-record methods (RPSG,
RUPTA) and the one-run empirical ε. `--runs rpsg:1 rpsg:4 rpsg:inf augpe:4 dpsgd:4 dpsgd:inf rupta:inf` picks
the runs instead of every method at every ε (the seven-run comparison of docs/audit.md); `leak:inf` adds the
planted leak, a release that publishes every seed verbatim (no method does that: it shows what the one-run ε
and the gate report when a release leaks everything, and is audited, not evaluated).
`--resume` keeps the work folder's split, canaries, finished runs, an evaluate that covers every run, and finished
audits (the full re-audit takes longer than one sitting on 2 cores); without it everything is drawn and run
afresh. `--add-to JSON` keeps an earlier sitting's rows for the (method, ε) this run does not measure, each
marked with its sitting: where the work folder of that sitting is gone (a new machine), the points still
missing can be measured on a new split and drawn beside the others, but compare rows within one sitting (each
sitting has its own split, canaries and evaluate, so its own matched n).
Writes results/frontier.{json,md} and results/frontier.png (accuracy, MAUVE, the strongest controlled attack and
seconds per published row over ε, one line per method; `--plot JSON` redraws it from a saved JSON). Each ε is
the method's own guarantee: RPSG's covers only the choice among candidates, AUG-PE's and DP-SGD's the whole
output (the `guarantee` column of the comparison table says which).

--quick (2 cores, under 45 minutes): 32 members, ε ∈ {1, 4, inf}, AUG-PE at T=2, k=2. AUG-PE has no noiseless
setting, so it is skipped at ε = inf.
Default (a bigger machine or a GPU node): 256 members, ε ∈ {1, 2, 4, 8, inf}, AUG-PE at T=10, k=6.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
METHODS = ("rpsg", "rpsg_dp", "augpe", "dpsgd", "rupta")
PER_RECORD = ("rpsg", "rupta")
"""Methods whose every output comes from one record: the audit re-runs them on the candidates."""


RPSG_DP_GROUP = 16
"""rpsg_dp's group size s here (its default): with s drafts per group it publishes n rows, like the others."""


def method_sets(method: str, n: int, epsilon: float, augpe: tuple[int, int]) -> dict[str, object]:
    """Config overrides giving every method the same n members and the same retained-count target. n is a published
    design parameter of the benchmark, so it is also AUG-PE's and DP-SGD's declared public size (same δ as RPSG's).
    The members file holds exactly the members (and the audit canaries): the per-record methods use every row
    (the demo config samples 64 seeds, which would leave most members out of the run and of the audit)."""
    from common import epsilon_set

    every_seed = {"input.seeds": "null"}
    per_method: dict[str, dict[str, object]] = {
        "rpsg": every_seed,
        "rpsg_dp": {"rpsg_dp.outputs_per_group": RPSG_DP_GROUP},  # n/s groups of s records, s drafts each: n rows
        "augpe": {"augpe.samples": n, "augpe.iterations": augpe[0], "augpe.variations": augpe[1]},
        "dpsgd": {"dpsgd.samples": n},
        "rupta": every_seed,
    }
    eps = {} if method == "rupta" else epsilon_set(method, epsilon)
    return {**per_method[method], **eps, "privacy.public_records": n}


def split(work: Path, members: int, non_members: int, resume: bool) -> tuple[Path, Path, Path]:
    """Members and non-members of one random split of the demo corpus, cut to the requested sizes, and the
    held-back control (the audit's in-domain negative control). With `resume`, the split already in `work`."""
    import pyarrow.parquet as pq
    from common import cli

    from rpsg_ray.demo_data import write_demo_corpus

    kept = (work / f"members-{members}.parquet", work / f"non_members-{non_members}.parquet")
    if resume and all(p.exists() for p in kept):
        return kept[0], kept[1], work / "split" / "control.parquet"
    corpus = write_demo_corpus(work / "corpus.parquet", 2000)
    cli("audit", "split", str(corpus), "--holdout", "0.5", "--control", "0.1", "--output", str(work / "split"))
    out = []
    for name, n in (("members", members), ("non_members", non_members)):
        table = pq.read_table(work / "split" / f"{name}.parquet")
        path = work / f"{name}-{n}.parquet"
        pq.write_table(table.slice(0, n), path)
        out.append(path)
    return out[0], out[1], work / "split" / "control.parquet"


def planted_leak(out: Path, seeds: Path) -> None:
    """A release that publishes every seed verbatim, with a lineage in which every seed was used and a ledger that
    claims nothing: the audit's positive control at full strength."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from rpsg_ray.audit.records import read_records
    from rpsg_ray.io.layout import RunLayout

    records = read_records(seeds)
    layout = RunLayout(out)
    layout.private.mkdir(parents=True, exist_ok=True)
    ids = [f"leak-{n:05d}" for n in range(len(records.ids))]
    labels = [label or "unknown" for label in records.labels] if any(records.labels) else ["unknown"] * len(ids)
    pq.write_table(pa.table({"synthetic_id": ids, "text": records.texts, "label": labels}), layout.synthetic)
    layout.manifest.write_text(json.dumps({"method": "planted-leak", "synthetic_rows": len(ids)}))
    layout.ledger.write_text(json.dumps({"method": "planted-leak", "epsilon": None, "dataset_level": False}))
    pq.write_table(pa.table({"seed_id": records.ids, "status": ["ok"] * len(ids)}), layout.lineage)


def with_sittings(rows: list[dict[str, Any]], when: str, earlier: dict[str, Any] | None) -> list[dict[str, Any]]:
    """This sitting's rows marked `when`, after the rows of an `earlier` results payload for every (method, ε)
    this sitting did not measure, each marked with the sitting it came from."""
    mine = [{**r, "sitting": when} for r in rows]
    if earlier is None:
        return mine
    measured = {(r["method"], float(r["epsilon"])) for r in rows}
    kept = [
        {**r, "epsilon": float(r["epsilon"]), "sitting": r.get("sitting", earlier["when"])}
        for r in earlier["rows"]
        if (r["method"], float(r["epsilon"])) not in measured
    ]
    return kept + mine


def run_names(method: str, epsilon: float, tag: str) -> tuple[str, str]:
    """A run's row label and folder: `--variant TAG` runs are METHOD+TAG in METHOD-TAG-epsE, beside the plain ones
    (the planted leak publishes the seeds whatever the config, so it stays untagged)."""
    if not tag or method == "leak":
        return method, f"{method}-eps{epsilon:g}"
    return f"{method}+{tag}", f"{method}-{tag}-eps{epsilon:g}"


def base_method(label: str) -> str:
    """The method a row label names (a `--variant` row is METHOD+TAG)."""
    return label.split("+")[0]


def variant_overrides(items: str, parser: argparse.ArgumentParser) -> dict[str, str]:
    """`--variant`'s KEY=VALUE,... ; a key the benchmark sets itself (ε, sizes) would make the row's label lie."""
    pairs = [item.split("=", 1) for item in items.split(",")]
    if any(len(pair) != 2 for pair in pairs):
        parser.error(f"--variant: {items!r} is not KEY=VALUE,...")
    own = {key for method in METHODS for key in method_sets(method, 1, 1.0, (1, 1))} | {f"{m}.epsilon" for m in METHODS}
    if clash := sorted({key for key, _ in pairs} & own):
        parser.error(f"--variant: the benchmark sets {', '.join(clash)} itself")
    return dict(pairs)


def planned_runs(args: argparse.Namespace, epsilons: list[float]) -> list[tuple[str, float]]:
    """(method, ε) pairs: `--runs`, or every method at every ε it has (AUG-PE has no noiseless setting, its votes
    are its only privacy; RUPTA has no ε at all)."""
    if args.runs:
        return [(r.split(":")[0], float(r.split(":")[1])) for r in args.runs]
    pairs = [(m, e) for m in args.methods for e in epsilons if not (m == "augpe" and math.isinf(e)) and m != "rupta"]
    return pairs + ([("rupta", math.inf)] if "rupta" in args.methods else [])


PANELS = (
    ("accuracy", "downstream accuracy", "utility"),
    ("mauve", "MAUVE", "fidelity"),
    ("best_attack_auc", "best controlled attack AUC (filled: family-wise p < 0.05)", "leakage"),
    ("s_per_retained", "seconds per published row (this machine)", "cost"),
)


def _epsilon(row: dict[str, Any]) -> float:
    return row["epsilon"]


def plot(rows: list[dict[str, Any]], path: Path) -> None:
    """Four panels over ε, one line per method: utility, fidelity, the audit's strongest attack (family-wise
    significant ones filled) and cost per published row. ε = ∞ is drawn to the right of the largest finite ε;
    the planted leak appears in the leakage panel only, as the instrument's positive reference."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    finite = sorted({r["epsilon"] for r in rows if not math.isinf(r["epsilon"])})
    inf_x = 2 * max(finite) if finite else 1.0
    fig, axes = plt.subplots(1, len(PANELS), figsize=(18, 5.6))
    palette = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    variants = sorted({r["method"] for r in rows} - {"leak", *METHODS})  # METHOD+TAG rows of --variant
    drawn = ("leak", *METHODS, *variants)
    colour = dict(zip(drawn, palette * 2, strict=False))  # one colour per method in every panel
    sittings = sorted({r.get("sitting", "") for r in rows})
    for method, sitting in ((m, t) for m in drawn for t in sittings):
        mine = sorted((r for r in rows if (r["method"], r.get("sitting", "")) == (method, sitting)), key=_epsilon)
        xs = [inf_x if math.isinf(r["epsilon"]) else r["epsilon"] for r in mine]
        # a sitting has its own split and evaluate: never one line across sittings; earlier ones dashed
        style = "-" if sitting == sittings[-1] else "--"
        label = method if len(sittings) == 1 else f"{method} ({sitting})"
        for ax, (key, _, _) in zip(axes, PANELS, strict=True):
            points = [(x, r) for x, r in zip(xs, mine, strict=True) if r.get(key) is not None]
            if not points:
                continue
            marker = None if key == "best_attack_auc" else "o"  # that panel's markers say significant or not
            xy = [x for x, _ in points], [r[key] for _, r in points]
            ax.plot(*xy, style, marker=marker, color=colour[method], label=label)
            if key == "best_attack_auc":
                for x, r in points:
                    significant = (r.get("family_p") or 1.0) < 0.05
                    ax.plot(x, r[key], "o", color=colour[method], fillstyle="full" if significant else "none")
    for ax, (key, label, title) in zip(axes, PANELS, strict=True):
        ax.set_xscale("log")
        ax.set_xticks([*finite, inf_x], [*(f"{e:g}" for e in finite), "∞"])
        ax.minorticks_off()  # the log axis would label its minor ticks (2×10⁰ …) between the ε values
        ax.set(xlabel="ε (each method's own guarantee)", ylabel=label, title=title)
        if key == "best_attack_auc":
            ax.axhline(0.5, color="grey", lw=0.8, ls="--")
        ax.grid(alpha=0.3)
    # one legend for all panels, below them: inside a panel it hid the points under it
    handles = {label: h for ax in axes for h, label in zip(*ax.get_legend_handles_labels(), strict=True)}
    rows_of_legend = math.ceil(len(handles) / 4)
    fig.legend(handles.values(), handles.keys(), loc="lower center", ncol=4, fontsize=8, frameon=False)
    fig.tight_layout(rect=(0, 0.045 * rows_of_legend, 1, 1))
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="2-core setting (see above)")
    parser.add_argument(
        "--stand-ins",
        action="store_true",
        help="the plumbing only, in about a minute, every command in one process on one Ray runtime: trivial "
        "stand-in engines (configs/dataplane.yaml), a hashing "
        "embedder and a 2-step LM in evaluate and audit, no re-run attack; RPSG and AUG-PE only; no figure means "
        "anything",
    )
    parser.add_argument("--members", type=int)
    parser.add_argument("--epsilons", type=float, nargs="+", help="ε values; inf = no noise")
    parser.add_argument("--methods", nargs="+", choices=METHODS, default=list(METHODS))
    parser.add_argument("--runs", nargs="+", metavar="METHOD:EPS", help="explicit runs instead of methods × ε")
    parser.add_argument("--augpe", default=None, help="AUG-PE setting TxK")
    parser.add_argument(
        "--one-run",
        type=int,
        default=0,
        metavar="M",
        help="audit canaries for the empirical ε; each is hosted by a member, which the membership attacks then "
        "leave out, so keep M at most a quarter of the members (128 members with 100 canaries left 27)",
    )
    parser.add_argument(
        "--rerun-non-members", type=int, metavar="N", help="non-members the re-run attack uses (default: members)"
    )
    parser.add_argument(
        "--variant",
        nargs=2,
        metavar=("TAG", "KEY=VALUE,..."),
        help="the runs with these config overrides on top (e.g. adapted rpsg.rewrite.engine.model=DIR): folders "
        "METHOD-TAG-epsE, rows METHOD+TAG, beside the plain runs of an earlier sitting (--add-to, --resume)",
    )
    parser.add_argument("--work", default=str(ROOT / "runs" / "bench-frontier"))
    parser.add_argument("--resume", action="store_true", help="keep what the work folder already holds")
    parser.add_argument("--plot", metavar="JSON", help="only redraw frontier.png from a results JSON")
    parser.add_argument(
        "--add-to", metavar="JSON", help="keep an earlier sitting's rows for the runs this one does not make"
    )
    args = parser.parse_args()
    if args.plot:
        saved = json.loads(Path(args.plot).read_text())["rows"]
        plot([{**r, "epsilon": float(r["epsilon"])} for r in saved], Path(args.plot).with_suffix(".png"))
        return
    from common import DEMO, RESULTS, cli, evaluate, generate, save, share_one_process

    from rpsg_ray.comparison import comparison_table, leakage

    n = args.members or (32 if args.quick else 256)
    if args.one_run > n // 4:
        parser.error(f"--one-run {args.one_run}: at most {n // 4} with {n} members (each host leaves the attacks)")
    tag, variant = (args.variant[0], variant_overrides(args.variant[1], parser)) if args.variant else ("", {})
    config, measure, smaller, one_pool = DEMO, [], [], {}
    if args.stand_ins:
        if set(args.methods) - {"rpsg", "augpe"} or args.runs:
            parser.error("--stand-ins: stand-in engines exist for rpsg and augpe only (--methods rpsg augpe)")
        config, measure = ROOT / "configs" / "dataplane.yaml", ["--embedder", "hashing", "--lm-steps", "2"]
        # the plumbing in under a minute: one actor pool for RPSG's chain (starting a pool per stage took 6 of its
        # 12 s), and an evaluate of 2 repeats against 256 real test rows (5 of 21 s)
        smaller, one_pool = ["--repeats", "2", "--max-test-rows", "256"], {"stages.fuse_all_stages": "true"}
        share_one_process(config)
    epsilons = args.epsilons or ([1.0, 4.0, math.inf] if args.quick else [1.0, 2.0, 4.0, 8.0, math.inf])
    default_augpe = "1x1" if args.stand_ins else "2x2" if args.quick else "10x6"
    t, k = (int(x) for x in (args.augpe or default_augpe).split("x"))
    work = Path(args.work)
    started = time.time()
    members, non_members, control = split(work, n, 2 * n, args.resume)
    seeds, canary_args = members, []
    if args.one_run:
        planted = work / "canaries"
        coins = ["--counts", "1:0", "--one-run", str(args.one_run)]  # audit canaries only
        if not (args.resume and (planted / "canaries.json").exists()):
            cli("audit", "canaries", str(members), "--output", str(planted), *coins)
        seeds, canary_args = planted / "seeds_with_canaries.parquet", ["--canaries", str(planted / "canaries.json")]
    runs: dict[Path, dict[str, Any]] = {}
    for method, eps in planned_runs(args, epsilons):
        label, folder = run_names(method, eps, tag)
        out = work / folder
        if method == "leak":
            planted_leak(out, seeds)
            runs[out] = {"method": label, "epsilon": eps}
            continue
        sets = {**method_sets(method, n, eps, (t, k)), **one_pool, **variant}
        figures = generate(method, out, seeds, sets, config, resume=args.resume)
        runs[out] = {"method": label, "epsilon": eps, "retained": figures["retained"], "wall_s": figures["wall_s"]}
    generated = [out for out, r in runs.items() if base_method(r["method"]) != "leak"]
    # a variant's sitting evaluates its own runs: beside, not over, the plain sitting's evaluate in the same folder
    evaluation = work / ("evaluate-" + tag if tag else "evaluate")
    utility = evaluate(generated, evaluation, *measure, *smaller, reuse=args.resume)
    audits = []
    # The re-run attack re-runs a whole pipeline per audit; the stand-in smoke leaves it out (its own e2e test runs it)
    rerun = [] if args.stand_ins else ["--rerun", "--rerun-non-members", str(args.rerun_non_members or n)]
    for out, r in runs.items():
        audit = work / f"audit-{out.name}"
        timing = audit / "bench_audit_s.json"  # the audit's wall time, kept for --resume
        if not (args.resume and timing.exists()):
            sides = ["--members", str(members), "--non-members", str(non_members), "--output", str(audit)]
            sides += ["--negative-control", str(control), *canary_args]
            sides += rerun if base_method(r["method"]) in PER_RECORD else []
            started_audit = time.time()
            cli("audit", "run", str(out), *sides, *measure, *(["--bootstrap", "50"] if args.stand_ins else []))
            timing.write_text(json.dumps(time.time() - started_audit))
        r["audit_s"] = json.loads(timing.read_text())
        leak = leakage(json.loads((audit / "metrics.json").read_text()))
        r.update(
            best_attack_auc=leak.auc,
            best_attack=leak.best_attack,
            family_p=leak.family_p,
            epsilon_empirical=leak.epsilon_empirical,
            canaries_leaked=leak.canaries_leaked,
        )
        if out in utility:
            audits.append(audit)
            r.update(
                accuracy=utility[out]["classifier_accuracy"]["mean"],
                mauve=utility[out]["mauve"]["mean"],
                retained_per_s=r["retained"] / r["wall_s"],
                s_per_retained=r["wall_s"] / r["retained"],
            )
    earlier = json.loads(Path(args.add_to).read_text()) if args.add_to else None
    rows = with_sittings(list(runs.values()), time.strftime("%Y-%m-%d %H:%M"), earlier)
    RESULTS.mkdir(parents=True, exist_ok=True)
    plot(rows, RESULTS / "frontier.png")
    table = comparison_table(evaluation, audits)
    print(table)
    print(
        save(
            "frontier",
            {
                "setting": f"{n} members, {2 * n} non-members ({args.rerun_non_members or n} with the re-run "
                f"attack), {args.one_run} audit canaries, demo config, AUG-PE T={t}, k={k}",
                "verdict": f"measured in {time.time() - started:.0f} s; plot: frontier.png",
                "note": "epsilon inf = no noise; accuracy: downstream classifier on the real test split; "
                "best_attack_auc: the strongest rpsg audit attack that passed both controls, family_p its "
                "family-wise p over every attack; epsilon_empirical: the one-run 95% lower bound; audit_s: the "
                "audit's wall time; sitting: when the row was measured (rows of one sitting share a split, "
                "canaries and evaluate; compare within a sitting)",
                "comparison_table": table,
            },
            rows,
        )
    )


if __name__ == "__main__":
    main()
