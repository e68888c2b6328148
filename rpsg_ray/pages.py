"""One writer for every report page: the run report, `rpsg evaluate` and `rpsg audit` build a `Page` from the same
blocks, and it becomes a self-contained HTML file and a Markdown file with the plots embedded as base64 PNG. One
escaping, one table layout and one style serve all three, and their terminal tables line up the same way.

matplotlib is imported only when a figure is drawn, so a command that writes no page never loads it.
"""

from __future__ import annotations

import base64
import html
import io
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pathlib import Path

    import numpy as np
    from matplotlib.figure import Figure

STYLE = (
    "body{font-family:system-ui,sans-serif;max-width:1200px;margin:2em auto;color:#222}"
    "table{border-collapse:collapse;margin:1em 0;font-size:13px}td,th{border:1px solid #ccc;padding:3px 8px;"
    "text-align:left;vertical-align:top}img{max-width:100%}.small{color:#555;font-size:13px}"
    "blockquote{background:#f6f6f6;margin:.5em 0;padding:.5em 1em;border-left:3px solid #4c72b0}"
)


def subplots(rows: int, cols: int, **kwargs: Any) -> tuple[Figure, np.ndarray]:
    """matplotlib's `subplots` on the Agg backend: no display on a server or in CI."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt.subplots(rows, cols, **kwargs)


def png(fig: Figure) -> str:
    """The figure as a base64 PNG; the figure is closed."""
    import matplotlib.pyplot as plt

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=90, bbox_inches="tight")
    plt.close(fig)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def text_table(rows: Sequence[Sequence[str]]) -> str:
    """Rows of cells, each column padded to its widest cell, for a terminal."""
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows)


def _md(text: str) -> str:
    """Text kept on one Markdown line and inside its table cell."""
    return text.replace("|", "\\|").replace("\n", " ")


@dataclass
class Page:
    """Blocks in reading order, each kept as HTML and as Markdown; `write` puts them into the two files."""

    title: str
    tab: str
    """The browser tab's title."""
    _html: list[str] = field(default_factory=list, init=False, repr=False)
    _markdown: list[str] = field(default_factory=list, init=False, repr=False)

    def _add(self, html_part: str, markdown_part: str) -> None:
        if not html_part:  # an empty list of notes, bullets or quotes
            return
        self._html.append(html_part)
        self._markdown.append(markdown_part)

    def heading(self, text: str, level: int = 2) -> None:
        self._add(f"<h{level}>{html.escape(text)}</h{level}>", f"{'#' * level} {text}")

    def paragraph(self, text: str, bold: bool = False) -> None:
        e = html.escape(text)
        self._add(f"<p><b>{e}</b></p>" if bold else f"<p>{e}</p>", f"**{text}**" if bold else text)

    def notes(self, lines: Iterable[str]) -> None:
        """Small print (sources, settings, timings): a paragraph a line in HTML, hard line breaks in Markdown."""
        lines = list(lines)
        self._add("".join(f"<p class='small'>{html.escape(x)}</p>" for x in lines), "\n".join(f"{x}  " for x in lines))

    def bullets(self, items: Iterable[str]) -> None:
        items = list(items)
        self._add(
            "<ul>" + "".join(f"<li>{html.escape(x)}</li>" for x in items) + "</ul>", "\n".join(f"- {x}" for x in items)
        )

    def quotes(self, texts: Iterable[str]) -> None:
        texts = list(texts)
        self._add(
            "".join(f"<blockquote>{html.escape(t)}</blockquote>" for t in texts),
            "\n\n".join(f"> {_md(t)}" for t in texts),
        )

    def table(self, rows: Sequence[Sequence[object]], head: Sequence[str] | None = None) -> None:
        """Rows of cells under `head`; without one, the rows are (name, value) pairs under an empty header."""
        cells = [[str(c) for c in r] for r in rows]
        top = list(head) if head is not None else [""] * len(cells[0])
        th = "<tr>" + "".join(f"<th>{html.escape(h)}</th>" for h in top) + "</tr>" if head is not None else ""
        body = "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in r) + "</tr>" for r in cells)
        markdown = ["| " + " | ".join(map(_md, top)) + " |", "|---" * len(top) + "|"]
        markdown += ["| " + " | ".join(map(_md, r)) + " |" for r in cells]
        self._add(f"<table>{th}{body}</table>", "\n".join(markdown))

    def figure(self, title: str, fig: Figure) -> None:
        """A section of its own: the title as a heading, the figure below it."""
        e, data = html.escape(title), png(fig)
        self._add(
            f"<h2>{e}</h2><img alt='{e}' src='data:image/png;base64,{data}'>",
            f"## {title}\n\n![{_md(title)}](data:image/png;base64,{data})",
        )

    def write(self, html_path: Path, markdown_path: Path) -> None:
        head = f"<!doctype html><html lang='en'><head><meta charset='utf-8'><title>{html.escape(self.tab)}</title>"
        body = f"<style>{STYLE}</style></head><body><h1>{html.escape(self.title)}</h1>"
        html_path.write_text(head + body + "".join(self._html) + "</body></html>")
        markdown_path.write_text("\n\n".join([f"# {self.title}", *self._markdown]) + "\n")
