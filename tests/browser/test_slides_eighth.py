"""A figure that shares its slide with a markdown cell (1280 × 720), measured in the page.

figure_view.js gave a figure, while presenting, the screen's height less its own cell's code and
other outputs, not less the other cells on the same slide: under a markdown cell of a few lines
(the heading's slide, the figure a fragment of it) a tall figure ran off the bottom of the
screen (chapter 09's cells 38 and 39, by 8 px). The figure is laid out again when the deck's
cells on screen change, for the cells of its own slide only: a figure alone on the next slide
keeps the whole screen.
"""

from __future__ import annotations

import nbformat
import pytest

from .deck import slide_state, start_deck, stop_deck
from .lab import BUILD, open_notebook, run_all, shutdown_kernels, wait_executed
from .test_slide_crowding import present_until
from .test_slides_sixth import write_notebook

pytestmark = pytest.mark.browser

SCREEN = {"width": 1280, "height": 720}
DECK_MIN_HEIGHT = 220  # figure_view.js: the least height of a figure on a slide
NOTEBOOK = "zz_slides_eighth.ipynb"

SETUP = """\
import torch
from transformer_course import figures, widgets"""

# Twenty rows: a heatmap 640 px tall (matrix_heatmap), more than a slide has under any text.
TALL = 'figures.matrix_heatmap(torch.arange(120.0).reshape(20, 6), title="{}")'

# A heading and five lines of prose at the deck's 20 px: about 220 px of the slide.
PROSE = """\
## Twenty rows under some words

- A heatmap of twenty rows asks for 640 px of height.
- On a slide, the screen is 720 px tall.
- These lines sit above it, on the same slide.
- The figure appears as a fragment, under them.
- All of it must stay on the screen."""


@pytest.fixture(scope="module")
def notebook(lab):
    cells = [
        nbformat.v4.new_markdown_cell("# Figures under words"),
        nbformat.v4.new_code_cell(SETUP),
        nbformat.v4.new_markdown_cell(PROSE),
        nbformat.v4.new_code_cell(TALL.format("Under words")),
        nbformat.v4.new_markdown_cell("## Twenty rows alone"),
        nbformat.v4.new_code_cell(TALL.format("Alone")),
    ]
    kinds = ["slide", "skip", "slide", "fragment", "slide", "subslide"]
    return write_notebook(lab, NOTEBOOK, cells, kinds)


def figure_height(page, index: int) -> float:
    cell = page.locator(".jp-Notebook-cell").nth(index)
    return cell.locator(".tc-figure").first.evaluate("d => d.getBoundingClientRect().height")


def test_a_figure_under_words_stays_on_its_slide(notebook, lab, browser):
    page = browser.new_page(viewport=SCREEN)
    shots = BUILD / "screenshots"
    shots.mkdir(parents=True, exist_ok=True)
    try:
        open_notebook(page, lab, notebook)
        run_all(page)
        wait_executed(page)
        start_deck(page)
        problems, heights = [], {}
        for label, index in (("under-words", 3), ("alone", 5)):  # the deck goes forward
            present_until(page, index)
            page.wait_for_timeout(800)  # the figure's new layout after the slide changed
            page.screenshot(path=str(shots / f"slides-eighth-{label}.png"))
            state = slide_state(page)
            assert index in state["cells"], f"{label}: cell {index} not on the slide: {state}"
            problems += [f"{label} slide: {p}" for p in state["problems"]]
            heights[label] = figure_height(page, index)
        assert not problems, "\n".join(problems)
        assert heights["under-words"] >= DECK_MIN_HEIGHT, f"the figure under words is squashed: {heights}"
        # The words above the first figure are on another slide than the second one.
        assert heights["alone"] > heights["under-words"] + 100, f"the lone figure lost room: {heights}"
    finally:
        stop_deck(page)
        page.close()
        shutdown_kernels(lab)
