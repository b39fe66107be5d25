"""What presenting chapters 00, 01, 03, 04, 06 and 09 at 1280 × 720 found, measured in the deck.

1. Chapter 00's "A real RNN, measured" ran 18 px off the bottom of the screen once its last
   fragment, the paragraph on the printed gradients, came in under 15 lines of code. That
   paragraph, which ends on the sliders to move, now opens the widget's slide.
2. The closing text of a full slide ran under the deck's arrow buttons in the bottom-right corner
   (chapter 01's "… in chapter 08 you" ended 20 px past the left edge of "<"; the story chapter 09
   prints after training ran "mia saw" under it; 03's einsum and 04's untrained-head paragraphs
   ended beside "^"): static/course.css keeps the last cell's prose and printed lines clear.

Each slide named below is presented from its first cell and stepped through fragment by fragment.
"""

from __future__ import annotations

import pytest

from .deck import press, settle, slide_state, stop_deck
from .lab import open_notebook, run_all, shutdown_kernels, wait_executed

SCREEN = {"width": 1280, "height": 720}
# Text must end this far left of an arrow button on its rows: a word right beside an arrow reads
# as one with it from the back of a room.
ARROWS_GAP_PX = 8
# chapter → how each slide's first cell starts: each slide ran off the screen or under the arrows.
# A chapter is run once for all of its slides.
SLIDES = {
    "00_welcome.ipynb": (
        "A real RNN, measured",  # 18 px off the bottom; prose under the arrows
        "In the RNN, the gradient",  # that paragraph, now above the widget
    ),
    "01_embeddings.ipynb": ("Untrained vectors mean nothing",),  # "… you" by the "<" arrow
}
# Chapter 09's: the story printed after training ran "mia saw" under the arrows. Measured by
# test_chapter09_once.py on its one executed page of the chapter.
CH09_SLIDE = "display(curve)"

# Lines of shown text of the slide's cells (prose, printed output; not code, figures or widgets,
# which do not wrap) that share rows with one of the deck's arrow buttons and end less than
# ``gap`` px left of it, or run under it: [{text, gap}].
UNDER_ARROWS_JS = """(gap) => {
  const remote = document.querySelector('.jp-Deck-Remote-directions');
  if (!remote) return null;
  const buttons = [...remote.querySelectorAll('button')].map(b => b.getBoundingClientRect());
  const near = [];
  for (const cell of document.querySelectorAll('.jp-deck-mod-onscreen.jp-deck-mod-visible')) {
    const walker = document.createTreeWalker(cell, NodeFilter.SHOW_TEXT);
    for (let n = walker.nextNode(); n; n = walker.nextNode()) {
      if (!n.textContent.trim() || n.parentElement.closest('.cm-editor, svg, .tc-explorer')) continue;
      const range = document.createRange();
      range.selectNodeContents(n);
      for (const r of range.getClientRects())
        for (const b of buttons)
          if (r.width > 0 && r.bottom > b.top && r.top < b.bottom && r.right > b.left - gap)
            near.push({text: n.textContent.trim().slice(-40), gap: Math.round(b.left - r.right)});
    }
  }
  return near;
}"""

# The index of the cell whose text starts with ``start``: its rendered markdown, or its source
# (code, or markdown the windowed notebook has not rendered yet: "### " before a heading).
FIND_JS = """(start) => [...document.querySelectorAll('.jp-Notebook-cell')].findIndex(c => {
    const text = c.querySelector('.jp-InputArea :is(.jp-RenderedHTMLCommon, .cm-content)');
    return text && text.textContent.trim().replace(/^#+\\s*/, '').startsWith(start); })"""


def present_from(page, start: str) -> int:
    """Start the deck on the cell whose text starts with ``start``; returns its index."""
    at = page.evaluate(FIND_JS, start)
    assert at >= 0, f"no cell starts with {start!r}; update SLIDES"
    cell = page.locator(".jp-Notebook-cell").nth(at)
    cell.scroll_into_view_if_needed()
    cell.locator(".jp-InputPrompt").first.click()  # selects the cell, as a click on its margin (no editing)
    page.locator('[data-command="deck:toggle"]').click()
    page.wait_for_selector("body[data-jp-deck-mode='presenting']", state="attached", timeout=10_000)
    settle(page, 0.3)
    return at


@pytest.mark.browser
@pytest.mark.parametrize("notebook", SLIDES, ids=[n[:2] for n in SLIDES])
def test_a_full_slide_fits_and_keeps_its_prose_clear_of_the_arrows(notebook, lab, browser):
    page = browser.new_page(viewport=SCREEN)
    try:
        open_notebook(page, lab, notebook)
        run_all(page)
        wait_executed(page)
        for start in SLIDES[notebook]:
            full_slide_fits(page, notebook, start)
    finally:
        page.close()
        shutdown_kernels(lab)


def full_slide_fits(page, notebook: str, start: str) -> None:
    """On ``page``, ``notebook`` executed: presents from the cell starting with ``start`` and
    steps through that slide's fragments; each must fit and keep its text clear of the arrows."""
    page.set_viewport_size(SCREEN)
    try:
        at = present_from(page, start)
        assert at in slide_state(page)["cells"], (
            f"{notebook}: the deck did not start on the slide of {start!r}"
        )
        problems = {}
        for _ in range(12):  # every fragment of the slide, then the first step past it
            state = slide_state(page)
            if at not in state["cells"]:
                break
            for p in state["problems"]:
                problems.setdefault(p.split(" spans")[0], p)
            near = page.evaluate(UNDER_ARROWS_JS, ARROWS_GAP_PX)
            assert near is not None, "the deck shows no arrows (.jp-Deck-Remote-directions)"
            for line in near:
                problems.setdefault(line["text"], f"ends {line['gap']} px left of the deck's arrows")
            press(page, "Space")
        else:
            pytest.fail(f"{notebook}: still on the slide of {start!r} after 12 steps")
        said = "\n".join(f"{k}: {v}" for k, v in problems.items())
        assert not problems, f"{notebook}, the slide of {start!r}:\n{said}"
    finally:
        stop_deck(page)
