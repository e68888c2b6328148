"""The one page writer of the run report, `rpsg evaluate` and `rpsg audit`: the same blocks in HTML and
Markdown, text escaped, plots embedded."""

from __future__ import annotations

from pathlib import Path

from rpsg_ray.pages import Page, subplots, text_table


def test_a_page_is_written_as_html_and_markdown_with_the_figure_inside(tmp_path: Path) -> None:
    page = Page("A <report>", tab="tab")
    page.paragraph("verdict", bold=True)
    page.notes([])  # nothing to say: no empty block
    page.table([("kept", 3), ("a|b", "<x>")])
    page.table([["1", "2"]], head=["one", "two"])
    fig, ax = subplots(1, 1)
    ax.plot([0, 1], [0, 1])
    page.figure("Curve", fig)
    page.write(tmp_path / "r.html", tmp_path / "r.md")
    html, md = (tmp_path / "r.html").read_text(), (tmp_path / "r.md").read_text()
    assert "<h1>A &lt;report&gt;</h1>" in html and "<p><b>verdict</b></p>" in html
    assert "<tr><td>kept</td><td>3</td></tr>" in html and "<td>&lt;x&gt;</td>" in html
    assert "<tr><th>one</th><th>two</th></tr>" in html
    assert html.count("data:image/png;base64,") == md.count("data:image/png;base64,") == 1
    assert md.startswith("# A <report>\n\n**verdict**\n\n|  |  |\n|---|---|\n| kept | 3 |\n| a\\|b | <x> |\n")
    assert "| one | two |\n|---|---|\n| 1 | 2 |" in md and "## Curve" in md


def test_terminal_tables_line_up() -> None:
    assert text_table([["a", "bbb"], ["cc", "d"]]) == "a   bbb\ncc  d"
