"""What every command shares: the parser class, and the one order in which a command line becomes a config."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rpsg_ray.config import Config
    from rpsg_ray.engines.causal_lm import LmBudget


class Parser(argparse.ArgumentParser):
    """An `ArgumentParser` without prefix abbreviations, so every flag has one spelling (`--out` is not taken
    for `--output`). Subparsers are built with the class of their parent, so the whole tree inherits it."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("allow_abbrev", False)
        super().__init__(*args, **kwargs)


def config(args: argparse.Namespace, keys: dict[str, object]) -> Config:
    """``args.config`` (None: the built-in defaults), then ``--set`` overrides, then the command's own flags
    (``keys``: config key → flag value; None means the flag was not given) on top."""
    from rpsg_ray.config import load_config

    overrides = [*(args.set or []), *(f"{key}={value}" for key, value in keys.items() if value is not None)]
    return load_config(args.config, overrides)


def add_model_args(parser: argparse.ArgumentParser) -> None:
    """The models `evaluate` and `audit` measure with: the embedder, and the training steps of the small LM.
    `--embedder hashing` (a stand-in, not a model) with few steps runs the plumbing in seconds, for tests; no
    figure from it means anything."""
    parser.add_argument(
        "--embedder", default="all-minilm-l6-v2", help="embedder by registry name (default all-minilm-l6-v2)"
    )
    parser.add_argument("--lm-steps", type=int, default=200, help="training steps of the small LM (default 200)")


def lm_budget(args: argparse.Namespace) -> LmBudget:
    from rpsg_ray.engines.causal_lm import LmBudget

    return LmBudget(steps=args.lm_steps)
