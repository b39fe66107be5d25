"""Presenting: a chapter shown as slides with jupyterlab-slideshow keeps its widgets live.

The deck is started on the slide of the chapter's last explorer, stepped forward until
the explorer is on screen, and a slider moved with the keyboard must redraw a figure.
Also checks, without a browser, that every chapter uses only slide types the deck
shows (it hides cells marked "-"; the course uses "fragment" for cells that follow).
"""

from __future__ import annotations

import json
import time

import pytest

from .lab import BUILD, CHAPTERS, FIGURES_JS, open_notebook, run_all, shutdown_kernels, wait_executed
from .test_chapters_in_lab import wait_repaint

NOTEBOOKS = sorted(CHAPTERS.glob("[0-9][0-9]_*.ipynb"))
PRESENTED = "02_positional_encoding.ipynb"
SHOWN = {"slide", "subslide", "fragment", "skip", "notes"}


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_slide_types_are_ones_the_deck_shows(notebook):
    cells = json.loads(notebook.read_text())["cells"]
    kinds = [c.get("metadata", {}).get("slideshow", {}).get("slide_type") for c in cells]
    hidden = [i for i, k in enumerate(kinds) if k not in SHOWN]
    assert not hidden, (
        f"{notebook.name}: cells {hidden} have slide types jupyterlab-slideshow "
        f"does not show ({sorted({kinds[i] for i in hidden}, key=str)}); "
        "use 'fragment' for a cell that follows on the same slide"
    )


@pytest.mark.browser
def test_present_chapter_with_live_widgets(lab, browser):
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    try:
        open_notebook(page, lab, PRESENTED)
        run_all(page)
        wait_executed(page)
        # Start the deck on the slide that holds the last explorer.
        cells = page.locator(".jp-Notebook-cell")
        target = page.evaluate("""() => {
            const cells = [...document.querySelectorAll('.jp-Notebook-cell')];
            const at = cells.findLastIndex(c => c.querySelector('.tc-explorer'));
            let i = at; while (i > 0 && !cells[i].classList.contains('jp-MarkdownCell')) i--;
            return [i, at]; }""")
        heading = cells.nth(target[0])
        heading.scroll_into_view_if_needed()
        heading.click()
        page.locator('[data-command="deck:toggle"]').click()
        page.wait_for_selector("body[data-jp-deck-mode='presenting']", state="attached", timeout=10_000)
        explorer_cell = cells.nth(target[1])
        for _ in range(10):
            if "jp-deck-mod-onscreen" in (explorer_cell.get_attribute("class") or ""):
                break
            page.locator(".jp-deck-mod-direction-forward").click()
            time.sleep(0.4)
        assert "jp-deck-mod-onscreen" in (explorer_cell.get_attribute("class") or ""), (
            "the explorer never came on screen in the deck"
        )
        explorer = explorer_cell.locator(".tc-explorer")
        assert explorer.is_visible()
        before = explorer.evaluate(FIGURES_JS)
        assert before and all(f["drawn"] for f in before)
        handle = explorer.locator(".widget-slider .noUi-handle").last
        handle.focus()
        page.keyboard.press("ArrowRight")
        after = wait_repaint(page, explorer, before)
        assert after is not None, "moving the slider in the deck redrew nothing"
        assert any(a["print"] != b["print"] for a, b in zip(after, before))
        (BUILD / "screenshots").mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(BUILD / "screenshots" / "present.png"))
    finally:
        page.close()
        shutdown_kernels(lab)
