"""`rpsg prepare` (packaged models, demo corpus, real splits) and `rpsg config-reference` (docs/CONFIG.md)."""

from __future__ import annotations

import argparse
from pathlib import Path

from rpsg_ray.demo_data import CORPORA


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "prepare",
        help="convert the packaged models and write the demo corpus and the real splits",
        description="Convert the packaged models; write the private demo corpus (the first --demo-rows "
        "labelled records of --corpus) and, from the records after it, a public real test split and a real "
        "train pool for `rpsg evaluate` (disjoint from the private set and from each other). Corpora: "
        "rotten_tomatoes (critic snippets, positive/negative; configs/demo.yaml), rotten_tomatoes_01 (the same, "
        "labelled 0/1) and trec (questions, six answer types; configs/trec.yaml).",
    )
    p.add_argument("--corpus", choices=sorted(CORPORA), default="rotten_tomatoes", help="which packaged corpus")
    p.add_argument("--demo-data", help="private corpus (default: data/<corpus>/...parquet)")
    p.add_argument("--demo-rows", type=int, default=2000)
    p.add_argument("--real-test", help="public real test split (Parquet; default beside the corpus)")
    p.add_argument("--real-train", help="public real train pool (Parquet; default beside the corpus)")
    p.add_argument("--test-rows", type=int, default=2000, help="rows in the real test split")
    p.set_defaults(func=_prepare)

    r = sub.add_parser("config-reference", help="print the field-by-field config reference (Markdown)")
    r.set_defaults(func=_config_reference)


def _prepare(args: argparse.Namespace) -> int:
    from rpsg_ray.demo_data import write_demo_corpus, write_real_splits
    from rpsg_ray.engines.registry import MINILM, SMOLLM2, resolve_model_path

    for name in (SMOLLM2, MINILM):
        print(f"model {name}: {resolve_model_path(name)}")
    corpus = CORPORA[args.corpus]
    private = Path(args.demo_data or corpus.private)
    # The splits are computed against this private set, so they default to its folder: beside another corpus
    # (a smaller --demo-rows elsewhere), the project's own splits would be rewritten to overlap its demo set.
    test = Path(args.real_test or private.with_name(corpus.real_test.name))
    train = Path(args.real_train or private.with_name(corpus.real_train.name))
    path = write_demo_corpus(private, args.demo_rows, corpus.name)
    print(f"demo corpus: {path} ({args.demo_rows} rows of {corpus.name})")
    test_rows, train_rows = write_real_splits(test, train, args.demo_rows, args.test_rows, corpus.name)
    print(f"real splits for `rpsg evaluate`: {test} ({test_rows} rows), {train} ({train_rows} rows)")
    return 0


def _config_reference(args: argparse.Namespace) -> int:
    from rpsg_ray.config import reference_markdown

    print(reference_markdown())
    return 0
