"""`rpsg generate` and one alias per method (`rpsg augpe` = `rpsg generate --method augpe`), all from the
method registry: a new method gets its alias and its help line without an edit here."""

from __future__ import annotations

import argparse
import textwrap

from rpsg_ray.commands.common import config

DESCRIPTION = (
    "Read private seed records, generate synthetic rows, filter them, and write the shareable synthetic.parquet, "
    "manifest.json and ledger.json into the output directory, and everything private (report, lineage, "
    "diagnostics, the secret key) under its private/ folder. An unfinished run in the output directory is resumed."
)


def _escaped(text: str) -> str:
    """argparse %-formats `help=` strings (not descriptions or epilogs); a summary is plain text."""
    return text.replace("%", "%%")


def _add_run_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of a run, the same for `generate` and every alias."""
    parser.add_argument("--config", required=True, help="YAML config (see configs/ and docs/CONFIG.md)")
    parser.add_argument("--input", help="seed file or directory (overrides input.path)")
    parser.add_argument("--output", help="run directory (overrides output_dir)")
    parser.add_argument(
        "--set", action="append", metavar="KEY=VALUE", help="override a config key, e.g. rpsg.epsilon=2"
    )
    parser.add_argument("--address", help="Ray cluster address (default: RAY_ADDRESS, else a local runtime)")
    parser.add_argument("--resume", action="store_true", help="require resuming an unfinished run in --output")
    parser.add_argument("--overwrite", action="store_true", help="delete a previous run in --output first")


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """The registry is read here, not in a handler: the help lists every method's name and summary."""
    from rpsg_ray.config import Config
    from rpsg_ray.methods.registry import METHODS

    default = Config.model_fields["method"].default
    width = max(map(len, METHODS))
    listing = "\n".join(f"  {name:<{width}}  {m.title}: {m.summary}" for name, m in METHODS.items())
    g = sub.add_parser(
        "generate",
        help=f"run a method on a seed corpus ({default} unless --method or the config says otherwise)",
        description=textwrap.fill(DESCRIPTION, 78),  # raw text (for the listing below): wrapped here
        epilog=f"methods (--method NAME, or the alias `rpsg NAME`):\n{listing}",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _add_run_arguments(g)
    g.add_argument("--method", choices=list(METHODS), help=f"the method (default: the config's, else {default})")
    g.set_defaults(func=_generate)

    for name, m in METHODS.items():
        if name == default:  # `rpsg generate` is its command
            continue
        alias = sub.add_parser(
            name,
            help=_escaped(f"{m.summary} (= generate --method {name})"),
            description=f"{m.title}: {m.summary}. The same as `rpsg generate --method {name}`. {DESCRIPTION}",
        )
        _add_run_arguments(alias)
        alias.set_defaults(func=_generate, method=name)


def _generate(args: argparse.Namespace) -> int:
    """Every method runs through the one pipeline and prints the one summary; exit 1 if the rows do not balance."""
    from rpsg_ray.pipeline import generate
    from rpsg_ray.report import terminal_summary

    cfg = config(args, {"method": args.method, "input.path": args.input, "output_dir": args.output})
    result = generate(cfg, resume=args.resume, overwrite=args.overwrite, address=args.address)
    print(terminal_summary(result.run_dir, result.manifest, result.ledger))
    return 0 if result.manifest["accounting"]["balanced"] else 1
