"""Chapter 08's attention-history explorer on a slide after the page was captured past the window.

Review 51 (H1): Playwright's screenshots of explorers taller than the window (Chromium captures
past the viewport), in Light and Dark, then the deck in Dark, then Light from the Settings menu
and the deck again: the explorer's figures kept the page's widths (1100 px in a 555 px view) and
its grid clipped 545 px of them. A figure is drawn at its view's width now, and drawn again where
a deck or a resized window left it at another. Also checks the pointer chart's value of a full bar
stays inside its plot on that slide (H2), in both decks.
"""

from __future__ import annotations

import pytest

from . import deck
from .lab import open_notebook, run_all, shutdown_kernels, wait_executed
from .test_present import DECK_PREFIXES, SCREEN
from .test_theme import set_theme

pytestmark = [
    pytest.mark.browser,
    pytest.mark.timeout(600),
    # Two whole decks of chapter 08 (about 2 minutes): with its deck, as test_present presents it
    # (TC_DECKS=all or 08_; `make test` keeps to 02, 05, 06 and 09 within CI's 30 minutes).
    pytest.mark.skipif(
        not (DECK_PREFIXES == "all" or "08_" in DECK_PREFIXES.split(",")),
        reason="chapter 08's deck runs with TC_DECKS=all or TC_DECKS=08_",
    ),
]

NOTEBOOK = "08_training_and_generation.ipynb"
PAGE = {"width": 1500, "height": 1000}
FIGURE_CELLS_JS = """() => [...document.querySelectorAll('.jp-Notebook .jp-CodeCell')].map((c, i) => [i,
  !!c.querySelector('.js-plotly-plot, .tc-explorer, .widget-box, table')]).filter(x => x[1]).map(x => x[0])"""
EXPLORER_JS = """() => [...document.querySelectorAll('.jp-Notebook-cell')]
  .findIndex(c => c.querySelector('.tc-explorer .tc-tall-on-slide'))"""


def capture_outputs(page, where) -> None:
    """A screenshot of each output holding a figure or an explorer, the tall ones past the window."""
    cells = page.locator(".jp-Notebook .jp-CodeCell")
    for i in page.evaluate(FIGURE_CELLS_JS):
        cell = cells.nth(i)
        cell.scroll_into_view_if_needed()
        page.wait_for_timeout(400)
        cell.locator(".jp-Cell-outputWrapper").first.screenshot(path=str(where / f"cell{i:02d}.png"))


def explorer_slide(page) -> dict:
    """The whole deck, first cell to last, at 1280 × 720: the state of the explorer's slide."""
    page.set_viewport_size(SCREEN)
    deck.start_deck(page)
    at, target, seen = deck.position(page), str(page.evaluate(EXPLORER_JS)), None
    for _ in range(200):  # to the deck's end, as the review's run went
        if target in at and seen is None:
            deck.settle(page, 0.5)
            seen = {**deck.slide_state(page), "bars": page.evaluate(deck.BARS_JS)}
        deck.slide_state(page)  # as the review's run measured each slide on the way
        step = deck.press(page, "Space")
        if step == at:
            break
        at = step
    deck.stop_deck(page)
    page.set_viewport_size(PAGE)
    assert seen is not None, f"the deck never showed cell {target}, the attention-history explorer"
    return seen


def test_history_explorer_fits_its_slide_after_captures_past_the_window(lab, browser, tmp_path):
    page = browser.new_page(viewport=PAGE)
    try:
        open_notebook(page, lab, NOTEBOOK)
        run_all(page)
        wait_executed(page, timeout_s=400)
        page.locator(".jp-Notebook").first.click()
        page.keyboard.press("Control+b")  # the file browser hidden: explorers 1100 px wide
        page.wait_for_timeout(1000)
        capture_outputs(page, tmp_path)
        set_theme(page, "JupyterLab Dark", False)
        capture_outputs(page, tmp_path)
        slides = {"dark": explorer_slide(page)}
        set_theme(page, "JupyterLab Light", True)
        slides["light"] = explorer_slide(page)
        for theme, seen in slides.items():
            clips = [p for p in seen["problems"] if "clips" in p]
            assert not clips, f"{theme}: the explorer's slide {clips}"
            assert seen["bars"]["checked"] and not seen["bars"]["past"], f"{theme}: {seen['bars']}"
    finally:
        deck.stop_deck(page)
        page.close()
        shutdown_kernels(lab)
