"""`rpsg evaluate`: the quality of one or more runs, by the same code, against the same real test split."""

from __future__ import annotations

import argparse
from pathlib import Path

from rpsg_ray.commands.common import add_model_args, lm_budget
from rpsg_ray.demo_data import REAL_TEST, REAL_TRAIN


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
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
        "--audience",
        choices=("no_one", "organisation", "someone"),
        default="no_one",
        help="whom records are written to, as the config's domain.audience: no_one (reviews, posts), organisation "
        "(complaints to a company), someone (replies, messages); it decides what the detector counts as chatter",
    )
    add_model_args(e)
    e.set_defaults(func=_evaluate)


def _evaluate(args: argparse.Namespace) -> int:
    from rpsg_ray.evaluation.results import EvaluationSettings
    from rpsg_ray.evaluation.runner import evaluate

    settings = EvaluationSettings(
        repeats=args.repeats,
        seed=args.seed,
        max_test_rows=args.max_test_rows,
        max_rows=args.max_rows,
        item=args.item,
        sentences=not args.free_endings,
        audience=args.audience,
        embedder=args.embedder,
        lm=lm_budget(args),
    )
    result = evaluate(
        [Path(r) for r in args.run_dirs], Path(args.real_test), Path(args.real_train), Path(args.output), settings
    )
    print(result.summary)
    return 0
