"""`rpsg adapt`: fit the generator to a domain on public records (rpsg_ray/adaptation.py), before any run."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from rpsg_ray.commands.common import config


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "adapt",
        help="fine-tune the generator on PUBLIC records of the domain (no ε), for runs to name as their model",
        description="Fine-tune rpsg.rewrite.engine.model on public records of the domain: each record becomes "
        "the prompt a run would build from its abstraction, with the record as the answer, so the model writes "
        "records in their writer's voice instead of answering the writer. No private record is read and no "
        "noise is added. Writes an HF model folder and adaptation.json (rows, losses, time); a run uses it with "
        "--set rpsg.rewrite.engine.model=FOLDER. Settings: the config's adapt section.",
    )
    p.add_argument("--config", required=True, help="YAML config of the runs that will use the model")
    p.add_argument(
        "--public", required=True, help="public records of the domain (Parquet, CSV or JSONL, like an input)"
    )
    p.add_argument("--output", required=True, help="folder for the adapted model")
    p.add_argument("--set", action="append", metavar="KEY=VALUE", help="override a config key, e.g. adapt.steps=60")
    p.add_argument("--address", help="Ray cluster address (default: RAY_ADDRESS, else a local runtime)")
    p.add_argument("--overwrite", action="store_true", help="replace a model already in --output")
    p.set_defaults(func=_adapt)


def _adapt(args: argparse.Namespace) -> int:
    from rpsg_ray.adaptation import adapt

    report = adapt(config(args, {}), Path(args.public), Path(args.output), args.overwrite, args.address)
    rows, training = report["rows"], report["training"]
    print(
        f"adapted {report['base_model']} on {rows['pairs']} pairs from {rows['input']} public rows "
        f"({training['steps']} steps, loss {training['first_loss']:.3f} -> {training['last_loss']:.3f}, "
        f"{report['wall_s']:.0f} s): {args.output}"
    )
    print(f"use it with: --set rpsg.rewrite.engine.model={args.output}")
    print(json.dumps(rows))
    return 0
