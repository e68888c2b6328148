"""`rpsg card`: one release card for a run, from its ledger, `rpsg evaluate` and `rpsg audit run`."""

from __future__ import annotations

import argparse
from pathlib import Path


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    c = sub.add_parser(
        "card",
        help="one release card: guarantee, quality, examples and measured leakage of a run, on one page",
        description="Write OUTPUT/card.html and card.md: the run's claimed guarantee and scope, its quality beside "
        "the real-data ceiling (from rpsg evaluate), example rows, and the leakage the audit measured (from rpsg "
        "audit run), each section marked shareable with the data's consumers or not.",
    )
    c.add_argument("run_dir", metavar="RUN_DIR")
    c.add_argument("--evaluate", required=True, metavar="DIR", help="an rpsg evaluate output that includes the run")
    c.add_argument("--audit", required=True, metavar="DIR", help="the rpsg audit run output of this run")
    c.add_argument("--output", required=True, metavar="DIR", help="folder for card.html and card.md")
    c.set_defaults(func=_card)


def _card(args: argparse.Namespace) -> int:
    from rpsg_ray.card import release_card

    print(release_card(Path(args.run_dir), Path(args.evaluate), Path(args.audit), Path(args.output)))
    return 0
