"""Round 46, in JupyterLab at 1280 px: chapter 00's diagram in the dark theme, and the grids of
chapter 02's and chapter 08's explorers on a page and on a slide.

- The Transformer diagram was a white card on JupyterLab Dark and on the exported page's dark
  mode: now the page shows its dark drawing (assets.py), a near-black card, and its light one
  only on a light page.
- Chapter 02's explorers (three views each) and chapter 08's history (four, one wide) left a cell
  of their grid empty on a 1280 px page: two columns of 420 px or more, and an odd view out.
  Now every row of every explorer's grid is full, on the page and on a slide.

Screenshots: build/screenshots/looks-round46-*.png.
"""

from __future__ import annotations

import nbformat
import pytest
from transformer_course import export

from .deck import press, start_deck, stop_deck
from .lab import BUILD, run_alone, shutdown_kernels
from .test_export_fourth import reader  # noqa: F401 (a fixture)
from .test_slide_crowding import HISTORY_SETUP
from .test_slides_sixth import write_notebook
from .test_theme import set_theme

pytestmark = [pytest.mark.browser, pytest.mark.timeout(300)]

NOTEBOOK = "zz_looks_round46.ipynb"
NOTES = BUILD / "screenshots"

SETUP = f"""\
import torch
from transformer_course import widgets
from transformer_course.assets import asset_image
from transformer_course.attention import MultiHeadAttention
from transformer_course.data import sequence_task
from transformer_course.embeddings import TokenEmbedding
from transformer_course.model import Transformer, TransformerConfig
from transformer_course.tokenizer import course_vocab

torch.manual_seed(0)
vocab = course_vocab()
{HISTORY_SETUP}task = sequence_task("reverse", num_symbols=8, min_len=3, max_len=6, num_train=40,
                     num_test=5, seed=0)
config = TransformerConfig(vocab_size=len(task.vocab), d_model=32, num_heads=2, num_encoder_layers=1,
                           num_decoder_layers=1, d_ff=64, dropout=0.0, max_len=16)"""
DIAGRAM = 'asset_image("transformer.svg", width=960, alt="the Transformer")'
CELLS = [  # chapter 02's two explorers, chapter 08's two
    "widgets.PositionalExplorer(length=24, d_model=32)",
    "widgets.WordOrderExplorer(vocab, TokenEmbedding(len(vocab), 32, scale=False),\n"
    "                          MultiHeadAttention(32, num_heads=2))",
    "widgets.AttentionHistoryExplorer({s: snap(s) for s in (0, 10, 100)}, sentences,\n"
    "                                 [8, 8], [1, 1], [6, 6])",
    'widgets.GenerationExplorer(Transformer(config), task, text="3 1 4 1 5")',
]

# Each explorer's grid: its columns and rows (tracks wider than 0 px), and how many of its cells
# no view covers. A view covers as many columns as its width spans, as many rows as their
# middles lie within its height.
GRIDS_JS = """(grids) => [...document.querySelectorAll(grids)].map(g => {
  const style = getComputedStyle(g), tracks = s => s.split(' ').map(parseFloat).filter(v => v > 0);
  const cols = tracks(style.gridTemplateColumns), rows = tracks(style.gridTemplateRows);
  const gap = parseFloat(style.columnGap) || 0, top = g.getBoundingClientRect().top;
  const middles = rows.map((h, k) => rows.slice(0, k).reduce((a, b) => a + b, 0)
                                     + k * (parseFloat(style.rowGap) || 0) + h / 2);
  const views = [...g.children].filter(v => v.getBoundingClientRect().width > 0);
  const covered = views.reduce((sum, v) => {
    const r = v.getBoundingClientRect();
    const across = Math.round((r.width + gap) / (cols[0] + gap));
    const down = middles.filter(m => m >= r.top - top && m <= r.bottom - top).length;
    return sum + across * down; }, 0);
  return {columns: cols.length, rows: rows.length, views: views.length,
          empty: cols.length * rows.length - covered, width: Math.round(g.getBoundingClientRect().width)};
})"""

LIVE, SNAPSHOT = ".tc-explorer .widget-gridbox", ".tc-snapshot-views"  # the export's (snapshot.py)

DIAGRAM_JS = """() => [...document.querySelectorAll('img.tc-on-light, img.tc-on-dark')]
  .filter(i => i.getBoundingClientRect().width > 0).map(i => i.className)"""


@pytest.fixture(scope="module")
def notebook(lab):
    cells = [nbformat.v4.new_markdown_cell("# Looks"), nbformat.v4.new_code_cell(SETUP)]
    cells += [nbformat.v4.new_code_cell(c) for c in [DIAGRAM, *CELLS]]
    return write_notebook(lab, NOTEBOOK, cells, ["slide", "skip"] + ["slide"] * (1 + len(CELLS)))


@pytest.fixture
def page(browser, lab):
    page = browser.new_page(viewport={"width": 1280, "height": 720})
    yield page
    page.close()
    shutdown_kernels(lab)


def shot(page, name: str, index: int | None = None) -> None:
    NOTES.mkdir(parents=True, exist_ok=True)
    if index is not None:
        page.locator(".jp-Notebook-cell").nth(index).evaluate("c => c.scrollIntoView({block: 'start'})")
        page.wait_for_timeout(300)
    page.screenshot(path=str(NOTES / f"looks-round46-{name}.png"))


def slides(page) -> list[dict]:
    """The deck, from the diagram's slide on: the diagram's box, then every explorer's grids."""
    page.locator(".jp-Notebook-cell").first.click()
    start_deck(page)
    press(page, "ArrowRight")
    shot(page, "slide-diagram")
    found = [page.locator("img.tc-on-dark").bounding_box()]
    for k in range(len(CELLS)):
        press(page, "ArrowRight")
        shot(page, f"slide-{k}")
        found += [g for g in page.evaluate(GRIDS_JS, LIVE) if g["width"] > 0]  # the slide's own
    stop_deck(page)
    return found


def test_at_1280_px_the_grids_are_full_and_the_diagram_follows_the_theme(page, lab, notebook):
    run_alone(page, lab, notebook)
    grids = page.evaluate(GRIDS_JS, LIVE)
    for k in range(len(CELLS)):
        shot(page, f"page-{k}", 3 + k)
    assert len(grids) == len(CELLS), grids
    assert not [g for g in grids if g["empty"]], f"1280 px page: grids with empty cells: {grids}"
    assert page.evaluate(DIAGRAM_JS) == ["tc-on-light"]
    set_theme(page, "JupyterLab Dark", light=False)
    try:
        assert page.evaluate(DIAGRAM_JS) == ["tc-on-dark"]
        shot(page, "diagram-dark", 2)
        diagram, *found = slides(page)
    finally:
        set_theme(page, "JupyterLab Light", light=True)
    # On the slide as tall as course.css lets a picture be (100vh - 240 px), and on the screen.
    assert diagram and diagram["height"] <= 720 - 240 + 1 and diagram["y"] + diagram["height"] <= 720, diagram
    assert len(found) >= len(CELLS), found
    assert not [g for g in found if g["empty"]], f"slide: grids with empty cells: {found}"


def test_the_exported_page_shows_the_drawing_of_its_theme(tmp_path, reader):  # noqa: F811
    cells = [
        nbformat.v4.new_markdown_cell("# 00 · The diagram"),
        nbformat.v4.new_code_cell(f"from transformer_course.assets import asset_image\n{DIAGRAM}"),
        nbformat.v4.new_code_cell(f"from transformer_course import widgets\n{CELLS[0]}"),  # chapter 02's
    ]
    nb = nbformat.v4.new_notebook(cells=cells)
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, tmp_path / "00_diagram.ipynb")
    target, failures = export.export_notebook(tmp_path / "00_diagram.ipynb", tmp_path / "html")
    assert failures == [], failures
    for scheme in ("light", "dark"):
        r = reader(target, 1280, scheme)
        # The system's scheme (a page opened in a dark browser): the drawing of that theme.
        assert r.page.evaluate(DIAGRAM_JS) == [f"tc-on-{scheme}"], scheme
        grids = r.page.evaluate(GRIDS_JS, SNAPSHOT)  # the explorer as last shown: a full grid too
        assert len(grids) == 1 and grids[0]["views"] == 3 and not grids[0]["empty"], grids
        NOTES.mkdir(parents=True, exist_ok=True)
        r.page.screenshot(path=str(NOTES / f"looks-round46-export-{scheme}.png"))
        assert r.clean(), (r.requests, r.errors)
