"""A run report a person would rather read than logs: Markdown + HTML with plots, and a terminal summary.

The report is the operator's: it shows drop counts, filter histograms against private records and
example rows, so it is written under ``private/`` with the other private files.
"""

from __future__ import annotations

import base64
import html
from pathlib import Path
from typing import Any

from rpsg_ray.io.finalize import NLL_BINS, SIM_BINS, RunCounts
from rpsg_ray.io.layout import RunLayout
from rpsg_ray.privacy.ledger import Ledger


def summary_rows(manifest: dict[str, Any]) -> list[tuple[str, str]]:
    c = manifest["counts"]
    rows = [
        ("input rows", str(manifest["accounting"]["input_rows_read"])),
        ("valid unique records (N)", str(manifest["input"]["valid_unique_records"])),
        ("seeds processed", str(manifest["input"]["seeds"])),
        ("kept (synthetic rows)", str(c["kept"])),
    ]
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
    rows = summary_rows(manifest)
    width = max(len(k) for k, _ in rows)
    lines = [f"  {k.ljust(width)}  {v}" for k, v in rows]
    files = "synthetic.parquet, manifest.json, ledger.json (shareable); private/ (never share: report, lineage...)"
    return "\n".join(["", f"run: {run_dir}", *lines, "", f"privacy: {ledger.summary()}", f"outputs: {files}", ""])


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


def _plot(counts: RunCounts, manifest: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    thresholds = manifest["thresholds"]
    panels = 3 if "nll_filter" in thresholds else 1  # the filter histograms exist for RPSG only
    fig, axes = plt.subplots(1, panels, figsize=(5 * panels, 4), squeeze=False)
    axes = axes[0]
    c = manifest["counts"]
    funnel = {
        "input": manifest["accounting"]["input_rows_read"],
        "quarantined": c["quarantined_total"],
        "not sampled": c["not_sampled"],
    }
    funnel.update({f"dropped:\n{s}": sum(r.values()) for s, r in c["dropped"].items()})
    funnel["kept"] = c["kept"]
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
    fig.savefig(path, dpi=90)
    plt.close(fig)


def write_report(layout: RunLayout, manifest: dict[str, Any], ledger: Ledger, counts: RunCounts) -> None:
    out = layout.private
    plot = out / "report.png"
    selection = selection_table(ledger)
    _plot(counts, manifest, plot)
    rows = summary_rows(manifest)
    busy = manifest["stage_busy_seconds"]
    examples = [e for e in counts.examples if e]
    md = [
        "# rpsg run report",
        "",
        "| | |",
        "|---|---|",
        *[f"| {k} | {v} |" for k, v in rows],
        "",
        "## Privacy",
        "",
        ledger.summary(),
        "",
        "Covered:",
        *[f"- {s}" for s in ledger.scope["covers"]],
        "",
        "Not covered:",
        *[f"- {s}" for s in ledger.scope["not_covered"]],
        "",
        "What the selection buys at this ε: P(the released candidate is the best one)",
        "",
        "| | |",
        "|---|---|",
        *[f"| {k} | {v} |" for k, v in selection],
        "",
        "## Stage busy time (actor-seconds)",
        "",
        "| stage | seconds |",
        "|---|---|",
        *[f"| {k} | {v} |" for k, v in busy.items()],
        "",
        "![plots](report.png)",
        "",
        "## Example synthetic rows",
        "",
        *[f"> {e}\n" for e in examples],
    ]
    (out / "report.md").write_text("\n".join(md))
    image = base64.b64encode(plot.read_bytes()).decode()
    table = "".join(f"<tr><td>{html.escape(k)}</td><td>{html.escape(v)}</td></tr>" for k, v in rows)
    stage_table = "".join(f"<tr><td>{k}</td><td>{v}</td></tr>" for k, v in busy.items())
    covers = "".join(f"<li>{html.escape(s)}</li>" for s in ledger.scope["covers"])
    not_covered = "".join(f"<li>{html.escape(s)}</li>" for s in ledger.scope["not_covered"])
    selection_html = "".join(f"<tr><td>{html.escape(k)}</td><td>{v}</td></tr>" for k, v in selection)
    samples = "".join(f"<blockquote>{html.escape(e)}</blockquote>" for e in examples)
    page = f"""<!doctype html><html><head><meta charset="utf-8"><title>rpsg run report</title>
<style>body{{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;color:#222}}
table{{border-collapse:collapse}}td{{border-bottom:1px solid #ddd;padding:4px 12px}}
blockquote{{background:#f6f6f6;margin:.5em 0;padding:.5em 1em;border-left:3px solid #4c72b0}}</style></head><body>
<h1>rpsg run report</h1><table>{table}</table>
<h2>Privacy</h2><p>{html.escape(ledger.summary())}</p>
<p>Covered:</p><ul>{covers}</ul><p>Not covered:</p><ul>{not_covered}</ul>
<p>What the selection buys at this ε: P(the released candidate is the best one)</p><table>{selection_html}</table>
<h2>Where the rows went, and the filters</h2><img style="max-width:100%" src="data:image/png;base64,{image}">
<h2>Stage busy time (actor-seconds)</h2><table>{stage_table}</table>
<h2>Example synthetic rows</h2>{samples}</body></html>"""
    layout.report.write_text(page)
