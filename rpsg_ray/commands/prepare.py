"""`rpsg prepare` (packaged models, demo corpus, real splits) and `rpsg config-reference` (docs/CONFIG.md)."""

from __future__ import annotations

import argparse
from pathlib import Path

from rpsg_ray.demo_data import DEMO_DATA, REAL_TEST, REAL_TRAIN


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
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
    p.set_defaults(func=_prepare)

    r = sub.add_parser("config-reference", help="print the field-by-field config reference (Markdown)")
    r.set_defaults(func=_config_reference)


def _prepare(args: argparse.Namespace) -> int:
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


def _config_reference(args: argparse.Namespace) -> int:
    from rpsg_ray.config import reference_markdown

    print(reference_markdown())
    return 0
