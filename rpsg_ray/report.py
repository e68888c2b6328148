"""A run report a person would rather read than logs: Markdown + HTML with plots, and a terminal summary.

The report is the operator's: it shows drop counts, filter histograms against private records and
example rows, so it is written under ``private/`` with the other private files.
"""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rpsg_ray.io.finalize import NLL_BINS, SIM_BINS, RunCounts
from rpsg_ray.io.layout import RunLayout
from rpsg_ray.pages import Page, subplots, text_table
from rpsg_ray.privacy.ledger import Ledger

if TYPE_CHECKING:
    from matplotlib.figure import Figure


def summary_rows(manifest: dict[str, Any], counted: bool = True) -> list[tuple[str, str]]:
    """The run in rows. `counted` False (a method whose relation protects a record's presence, so its ledger
    says N is not published) leaves out every figure counted from the private records."""
    c = manifest["counts"]
    published = ("published synthetic rows", str(c["published"]))
    if not counted:
        return [
            published,
            ("every row accounted for", "yes" if manifest["accounting"]["balanced"] else "NO"),
            ("wall time", f"{manifest['wall_seconds']:.1f} s"),
        ]
    rows = [
        ("input rows", str(manifest["accounting"]["input_rows_read"])),
        ("valid unique records (N)", str(manifest["input"]["valid_unique_records"])),
        ("seeds processed", str(manifest["input"]["seeds"])),
        published,
    ]
    found = manifest["input"].get("labels") or {}
    if found:
        listed = ", ".join(f"{label or '(none: the classifier labels it)'}: {n}" for label, n in sorted(found.items()))
        rows.append(("valid rows per input label", listed))
    if manifest["release"]:  # a dataset-level method: its output is linked to no record
        rows.append(("records that contributed (no output is linked to one)", str(c["kept"])))
    for stage, reasons in c["dropped"].items():
        for reason, n in reasons.items():
            rows.append((f"dropped by {stage}: {reason}", str(n)))
    for reason, n in c["quarantined"].items():
        rows.append((f"quarantined: {reason}", str(n)))
    if c["not_sampled"]:
        rows.append(("not drawn into the seed sample", str(c["not_sampled"])))
    rows.append(("every row accounted for", "yes" if manifest["accounting"]["balanced"] else "NO"))
    if "nll_filter" in manifest["thresholds"]:
        b = manifest["thresholds"]["nll_filter"]
        rows.append(("NLL bounds (nats/token)", f"[{b['lo']:.3f}, {b['hi']:.3f}] ({b['source']})"))
        rows.append(("similarity threshold", str(manifest["thresholds"]["similarity_filter"]["max_cosine"])))
    sel = manifest["privacy"]["selection_observed"]
    if sel.get("selections"):
        rows.append(
            (
                "selection (pass 1) released the best candidate",
                f"{sel['released_best_rate']:.0%} of {sel['selections']} (σ predicts {sel['predicted_best_rate']:.0%})",
            )
        )
        retry = sel["retry"]
        if retry["selections"]:
            rows.append(
                (
                    "retry pass released the best candidate",
                    f"{retry['released_best_rate']:.0%} of {retry['selections']} "
                    f"(σ predicts {retry['predicted_best_rate']:.0%})",
                )
            )
    rows.append(("tokens generated", str(sum(manifest["tokens_generated"].values()))))
    rows.append(("wall time", f"{manifest['wall_seconds']:.1f} s"))
    seconds, rss = manifest["phase_wall_seconds"], manifest["driver_peak_rss_mib"]
    phases = ", ".join(f"{k} {seconds[k]:.1f} s / {rss[k]:.0f} MiB" for k in seconds)
    rows.append(("phases: wall time / driver peak memory so far", phases))
    return rows


def terminal_summary(run_dir: Path, manifest: dict[str, Any], ledger: Ledger) -> str:
    """What the command prints (it may reach job logs): the counted figures only where the ledger publishes N."""
    counted = ledger.n_private_records is not None
    table = textwrap.indent(text_table(summary_rows(manifest, counted)), "  ")
    files = "synthetic.parquet, manifest.json, ledger.json (shareable); private/ (never share: report, lineage...)"
    return "\n".join(["", f"run: {run_dir}", table, "", f"privacy: {ledger.summary()}", f"outputs: {files}", ""])


def selection_table(ledger: Ledger) -> list[tuple[str, str]]:
    """P(the released candidate is the best one) by the best's lead, at this run's σ (RPSG only)."""
    u = ledger.selection_utility
    if not u:
        return []
    rows = [(f"best leads by {gap}", f"{p:.3f}") for gap, p in u["p_best_at_gap"].items()]
    rows.append(("best leads by the whole score range", f"{u['p_best_at_full_range']:.3f}"))
    rows.append(("uniform choice (no information)", f"{u['uniform']:.3f}"))
    agree = u["p_agreeing_pick"]
    rows.append(("final pick agrees with the label, one selection", f"{agree['single_selection']:.3f}"))
    rows.append(("final pick agrees with the label, with the retry as configured", f"{agree['final']:.3f}"))
    return rows


def _figure(counts: RunCounts, manifest: dict[str, Any]) -> Figure:
    thresholds = manifest["thresholds"]
    panels = 3 if "nll_filter" in thresholds else 1  # the filter histograms exist for RPSG only
    fig, axes = subplots(1, panels, figsize=(5 * panels, 4), squeeze=False)
    axes = axes[0]
    c = manifest["counts"]
    funnel = {
        "input": manifest["accounting"]["input_rows_read"],
        "quarantined": c["quarantined_total"],
        "not sampled": c["not_sampled"],
    }
    funnel.update({f"dropped:\n{s}": sum(r.values()) for s, r in c["dropped"].items()})
    funnel["contributed" if manifest["release"] else "kept"] = c["kept"]
    axes[0].barh(list(funnel)[::-1], list(funnel.values())[::-1], color="#4c72b0")
    axes[0].set_title("where the rows went")
    if panels == 3:
        bounds = thresholds["nll_filter"]
        centers = (NLL_BINS[:-1] + NLL_BINS[1:]) / 2
        axes[1].bar(centers, counts.nll_hist, width=NLL_BINS[1] - NLL_BINS[0], color="#55a868")
        for x in (bounds["lo"], bounds["hi"]):
            axes[1].axvline(x, color="#c44e52", linestyle="--")
        axes[1].set_title("NLL of outputs (nats/token) and bounds")
        centers = (SIM_BINS[:-1] + SIM_BINS[1:]) / 2
        axes[2].bar(centers, counts.sim_hist, width=SIM_BINS[1] - SIM_BINS[0], color="#8172b2")
        axes[2].axvline(thresholds["similarity_filter"]["max_cosine"], color="#c44e52", linestyle="--")
        axes[2].set_title("max cosine to any private record")
    fig.tight_layout()
    return fig


def write_report(layout: RunLayout, manifest: dict[str, Any], ledger: Ledger, counts: RunCounts) -> None:
    """private/report.html and private/report.md: the same page, plots embedded."""
    page = Page("rpsg run report", tab="rpsg run report")
    page.table(summary_rows(manifest))
    page.heading("Privacy")
    page.paragraph(ledger.summary())
    page.paragraph("Covered:")
    page.bullets(ledger.scope["covers"])
    page.paragraph("Not covered:")
    page.bullets(ledger.scope["not_covered"])
    selection = selection_table(ledger)
    if selection:
        page.paragraph("What the selection buys at this ε: P(the released candidate is the best one)")
        page.table(selection)
    page.figure("Where the rows went, and the filters", _figure(counts, manifest))
    page.heading("Stage busy time (actor-seconds)")
    page.table(list(manifest["stage_busy_seconds"].items()), head=("stage", "seconds"))
    page.heading("Example synthetic rows")
    page.quotes(e for e in counts.examples if e)
    page.write(layout.report, layout.report.with_suffix(".md"))
