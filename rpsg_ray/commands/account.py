"""`rpsg account`: the privacy calculator, through the ledger code every run writes its ledger with."""

from __future__ import annotations

import argparse

from rpsg_ray.commands.common import config
from rpsg_ray.errors import ConfigError


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from rpsg_ray.config import Config
    from rpsg_ray.methods.registry import METHODS

    a = sub.add_parser(
        "account",
        help="turn (ε, δ) into σ, or σ into ε",
        description="Privacy calculator: prints the ledger a run with these settings would write (the same code "
        "computes every run's ledger).",
    )
    a.add_argument("--method", choices=list(METHODS), default=Config.model_fields["method"].default)
    a.add_argument("--config", help="YAML config whose privacy and selection settings to use (default: built-in)")
    a.add_argument("--set", action="append", metavar="KEY=VALUE", help="override a config key")
    a.add_argument("--epsilon", type=float, help="target ε: print the σ that buys it")
    a.add_argument("--sigma", type=float, help="noise σ: print the ε it buys")
    a.add_argument(
        "--delta", type=float, help="δ (default: 1/(n·ln n) with n = --records for rpsg, --public-records otherwise)"
    )
    a.add_argument(
        "--records",
        type=int,
        help="N, the counted private records: rpsg's default δ; for every method, checks δ < 1/N",
    )
    a.add_argument(
        "--public-records",
        type=int,
        help="privacy.public_records, a size that may be published: augpe's and dpsgd's default δ and dpsgd's q",
    )
    a.add_argument("--candidates", type=int, help="K candidates per selection (rpsg)")
    a.add_argument("--selections", type=int, help="noisy selections per record (rpsg): 2 with the retry pass, else 1")
    a.add_argument("--iterations", type=int, help="T iterations (augpe)")
    a.add_argument("--steps", type=int, help="optimizer steps (dpsgd)")
    a.add_argument("--batch-size", type=int, help="expected Poisson batch size (dpsgd; q = this / --public-records)")
    a.set_defaults(func=_account)


def _account(args: argparse.Namespace) -> int:
    """The ledger a run with these settings would write, computed by the same code (no second copy)."""
    from rpsg_ray.config import Config
    from rpsg_ray.methods.registry import ledger_for
    from rpsg_ray.privacy.accountant import PrivacyParameterError, dpsgd_pld_epsilon, pld_epsilon

    noisy = "epsilon" in Config.model_fields[args.method].annotation.model_fields  # the method's section has an ε
    if not noisy and (args.epsilon, args.sigma) != (None, None):
        raise ConfigError(f"{args.method} adds no noise: --epsilon and --sigma do not apply")
    if noisy and (args.epsilon is None) == (args.sigma is None):
        raise ConfigError("give exactly one of --epsilon or --sigma")
    if args.method == "rpsg_dp" and args.sigma is not None:
        raise ConfigError("rpsg_dp adds no Gaussian noise: give --epsilon (the clip C is solved for it)")
    if args.selections not in (None, 1, 2):
        raise ConfigError("--selections is 1 (no retry pass) or 2 (with retry)")
    cfg = config(
        args,
        {
            f"{args.method}.epsilon": args.epsilon,
            "privacy.delta": args.delta,
            "rpsg.abstract.candidates": args.candidates,
            "rpsg.select.retry": None if args.selections is None else str(args.selections == 2).lower(),
            "augpe.iterations": args.iterations,
            "dpsgd.steps": args.steps,
            "dpsgd.expected_batch_size": args.batch_size,
            "privacy.public_records": args.public_records,
        },
    )
    try:
        ledger = ledger_for(cfg, args.method, args.records, args.sigma)
        if ledger.epsilon is None:
            print(f"{ledger.summary()}\n{ledger.statement()}")
            return 0
        c = ledger.composition
        if ledger.method == "rpsg_dp":
            print(
                f"{ledger.mechanism}; {c['count']} composed token mechanisms per record\n"
                f"  clip C = {c['clip']:.6g}, per-token η = 2C/(sτ) = {c['eta_per_token']:.6g}, ρ = {c['rho']:.6g}\n"
                f"  epsilon = {ledger.epsilon:.10g} at delta = {ledger.delta:g} ({ledger.delta_source}; RDP "
                f"cross-check: {c['epsilon_rdp_crosscheck']:.6g})\n{ledger.summary()}\n{ledger.statement()}"
            )
            return 0
        if ledger.method == "dpsgd":
            check = dpsgd_pld_epsilon(ledger.sigma, ledger.delta, c["sample_rate"], c["count"])
        else:
            check = pld_epsilon(ledger.sigma, ledger.delta, ledger.sensitivity, c["count"])
    except PrivacyParameterError as e:
        raise ConfigError(str(e)) from None
    print(
        f"{ledger.mechanism}; {ledger.composition['count']} composed release(s)\n"
        f"  sensitivity Δ₂ = {ledger.sensitivity:.6g}\n  sigma = {ledger.sigma:.10g}\n"
        f"  epsilon = {ledger.epsilon:.10g} at delta = {ledger.delta:g} ({ledger.delta_source}; PLD cross-check: "
        f"{check:.6g})\n{ledger.summary()}\n{ledger.statement()}"
    )
    return 0
