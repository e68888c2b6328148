"""What every command shares: the parser class, and the one order in which a command line becomes a config."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rpsg_ray.config import Config


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
