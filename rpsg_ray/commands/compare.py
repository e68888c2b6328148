"""`rpsg compare`: the paper's comparison table, joined from `rpsg evaluate` and `rpsg audit run` outputs."""

from __future__ import annotations

import argparse
from pathlib import Path


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    c = sub.add_parser(
        "compare",
        help="print the paper's comparison table from rpsg evaluate and rpsg audit run outputs",
        description="Join one `rpsg evaluate` output (every run's utility and quality, the real-data ceiling) "
        "with the `rpsg audit run` output of each run (strongest controlled attack, TPR at 1% FPR, canaries), "
        "matched by run directory; each run's ε and what it covers come from its ledger.",
    )
    c.add_argument("--evaluate", required=True, metavar="DIR", help="the --output folder of rpsg evaluate")
    c.add_argument("--audit", nargs="*", default=[], metavar="DIR", help="--output folders of rpsg audit run")
    c.add_argument("--output", help="also write the Markdown table to this file")
    c.set_defaults(func=_compare)


def _compare(args: argparse.Namespace) -> int:
    from rpsg_ray.comparison import comparison_table

    table = comparison_table(Path(args.evaluate), [Path(a) for a in args.audit])
    if args.output:
        Path(args.output).write_text(table)
    print(table, end="")
    return 0
