"""Explorers presented at 1280 × 720 in JupyterLab Dark, as an instructor shows them.

Chapter 03's QKVExplorer draws Q, K and V as three small heatmaps beside each other, and
chapter 01's EmbeddingExplorer a 5 × 8 heatmap beside the similarity of every pair. Plotly
sizes the numbers in heatmap cells to fit the cell: on a slide they came out at 5 to 9 px,
specks no one could read on a projector. On a slide those numbers are left out and a colour
bar says what the colours mean; numbers that read (the scores, 16 px) stay, and the notebook
outside the deck shows every number as before.
"""

from __future__ import annotations

import nbformat
import pytest

from .deck import start_deck, stop_deck
from .lab import BUILD, open_notebook, run_all, shutdown_kernels, wait_executed
from .test_slide_crowding import present_until
from .test_theme import set_theme

pytestmark = pytest.mark.browser

SCREEN = {"width": 1280, "height": 720}
MIN_FONT_PX = 12  # figure_view.js: DECK_MIN_FONT
NOTEBOOK = "zz_slides_fifth.ipynb"

SETUP = """\
from transformer_course import widgets
from transformer_course.attention import SingleHeadAttention
from transformer_course.embeddings import TokenEmbedding
from transformer_course.tokenizer import course_vocab

vocab = course_vocab()"""

# As chapter 03's explorer cell.
QKV = """\
explorer_embed = TokenEmbedding(len(vocab), 8, scale=False)
explorer_head = SingleHeadAttention(8, d_k=4)
widgets.QKVExplorer(vocab, explorer_embed, explorer_head, text="I'm playing with a cat", query=0)"""

# As chapter 01's explorer cell.
EMBEDDING = """\
explorer_embedding = TokenEmbedding(len(vocab), 8)
widgets.EmbeddingExplorer(vocab, explorer_embedding, text="the cat saw the dog")"""

# Per figure of a cell: its title, the font sizes of the numbers in its heatmap cells, how
# many heatmaps it draws and how many colour bars.
NUMBERS_JS = """(cell) => [...cell.querySelectorAll('.tc-figure')].map(div => ({
  title: ((div.querySelector('.gtitle') || {}).textContent || '').slice(0, 40),
  numbers: [...div.querySelectorAll('g.heatmap-label text')].filter(t => t.textContent.trim())
    .map(t => parseFloat(getComputedStyle(t).fontSize)),
  heatmaps: (div._fullData || []).filter(t => t.type === 'heatmap').length,
  bars: div.querySelectorAll('.colorbar').length,
}))"""


@pytest.fixture(scope="module")
def notebook(lab):
    cells = [
        nbformat.v4.new_markdown_cell("# Small heatmaps on a slide"),
        nbformat.v4.new_code_cell(SETUP),
        nbformat.v4.new_markdown_cell("## Explore: queries, keys and values"),
        nbformat.v4.new_code_cell(QKV),
        nbformat.v4.new_markdown_cell("## Explore: your own sentence"),
        nbformat.v4.new_code_cell(EMBEDDING),
    ]
    kinds = ["slide", "skip", "slide", "subslide", "slide", "subslide"]
    for cell, kind in zip(cells, kinds):
        cell.metadata["slideshow"] = {"slide_type": kind}
    nb = nbformat.v4.new_notebook(cells=cells)
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3 (ipykernel)",
        "language": "python",
    }
    nbformat.write(nb, str(lab.root / NOTEBOOK))
    return NOTEBOOK


def unreadable(figures: list[dict], where: str) -> list[str]:
    """Cell numbers under MIN_FONT_PX, and heatmaps shown without numbers or a colour bar."""
    problems = []
    for f in figures:
        small = [size for size in f["numbers"] if size < MIN_FONT_PX]
        if small:
            problems.append(f"{where}, {f['title']!r}: {len(small)} cell numbers at {min(small)} px")
        if f["heatmaps"] and not f["numbers"] and not f["bars"]:
            problems.append(f"{where}, {f['title']!r}: neither numbers nor a colour bar")
    return problems


def test_heatmap_numbers_on_a_slide_read_or_give_way_to_a_colour_bar(notebook, lab, browser):
    page = browser.new_page(viewport=SCREEN)
    try:
        open_notebook(page, lab, notebook)
        set_theme(page, "JupyterLab Dark", False)
        run_all(page)
        wait_executed(page)
        start_deck(page)
        # JupyterLab's "¶" beside a heading shows while the pointer rests there: not on a slide.
        title = page.locator(".jp-Notebook-cell").nth(0)
        title.locator("h1").hover()
        anchor = title.locator(".jp-InternalAnchorLink").evaluate("a => getComputedStyle(a).display")
        assert anchor == "none", f"the heading's ¶ link shows on the slide (display: {anchor})"
        measured, problems = {}, []
        (BUILD / "screenshots").mkdir(parents=True, exist_ok=True)
        for label, index in (("qkv", 3), ("embedding", 5)):
            present_until(page, index)
            page.screenshot(path=str(BUILD / "screenshots" / f"slides-fifth-{label}-dark.png"))
            measured[label] = page.locator(".jp-Notebook-cell").nth(index).evaluate(NUMBERS_JS)
            problems += unreadable(measured[label], label)
        assert not problems, "\n".join(problems) + f"\n{measured}"
        scores = next(f for f in measured["qkv"] if f["title"].startswith("Scores"))
        assert scores["numbers"], f"the scores' numbers read at 16 px and should stay: {scores}"
        stop_deck(page)
        page.wait_for_timeout(1500)  # every figure redrawn for the notebook
        views = page.locator(".jp-Notebook-cell").nth(3).evaluate(NUMBERS_JS)
        qkv = next(f for f in views if f["title"].startswith("Q, K, V"))
        assert qkv["numbers"], f"outside the deck the learner sees every number: {qkv}"
    finally:
        stop_deck(page)
        if page.evaluate("document.body.dataset.jpThemeLight") == "false":
            set_theme(page, "JupyterLab Light", True)
        page.close()
        shutdown_kernels(lab)
