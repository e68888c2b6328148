"""`rpsg`: the entry point. Each capability registers its own subcommands (`rpsg_ray.commands`); this module
parses, dispatches, and turns errors into one line for the user."""

from __future__ import annotations

import argparse
import logging
import sys
import traceback
from pathlib import Path

from rpsg_ray.commands import account, adapt, audit, card, compare, evaluate, generate, prepare
from rpsg_ray.commands.common import Parser
from rpsg_ray.errors import RpsgError

COMMANDS = (generate, account, prepare, adapt, evaluate, compare, audit, card)
"""In the order `rpsg --help` lists them."""

EPILOG = """examples:
  rpsg prepare                                   # convert packaged models, write the demo corpus
  rpsg generate --config configs/demo.yaml       # run the pipeline on the embedded local Ray runtime
  rpsg generate --config configs/demo.yaml --set rpsg.epsilon=2 --output runs/eps2
  rpsg adapt --config configs/complaints.yaml --public data/complaints/complaints_train.parquet --output models/cfpb
  rpsg account --epsilon 4 --delta 1e-6 --candidates 4 --selections 2
  rpsg augpe --config configs/demo.yaml --output runs/augpe --set augpe.iterations=2
  rpsg dpsgd --config configs/demo.yaml --output runs/dpsgd --set dpsgd.epsilon=4
  rpsg evaluate runs/demo runs/augpe --output runs/eval   # quality of each run vs the real test split
  rpsg audit split data/demo/rotten_tomatoes.parquet --holdout 0.5 --output split/   # members / non-members
  rpsg audit canaries split/members.parquet --output canaries/                # plant secrets before a run
  rpsg audit run runs/demo --members split/members.parquet --non-members split/non_members.parquet --output audit/
  rpsg compare --evaluate runs/eval --audit audit/                            # the paper's table, measured

benchmarks run from a checkout: python benchmarks/NAME.py [--quick] (see benchmarks/README.md)
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


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="rpsg",
        description="RPSG synthetic data from private seeds, as a streaming Ray Data job.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress details (never record text)")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for command in COMMANDS:
        command.register(sub)
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
