"""Presenting: a chapter shown as slides with jupyterlab-slideshow keeps its widgets live.

The deck is started on the slide of the chapter's last explorer, stepped forward until
the explorer is on screen, and a slider moved with the keyboard must redraw a figure.
Also checks, without a browser, that every chapter uses only slide types the deck
shows (it hides cells marked "-"; the course uses "fragment" for cells that follow).
"""

from __future__ import annotations

import json
import os

import pytest

from .deck import BARS_JS, position, presenting, press, slide_state, start_deck, stop_deck
from .lab import (
    BUILD,
    CHAPTERS,
    CLIPPED_JS,
    FIGURES_JS,
    open_notebook,
    run_all,
    shutdown_kernels,
    wait_executed,
)
from .test_chapters_in_lab import wait_repaint

NOTEBOOKS = sorted(CHAPTERS.glob("[0-9][0-9]_*.ipynb"))
PRESENTED = "02_positional_encoding.ipynb"
SHOWN = {"slide", "subslide", "fragment", "skip", "notes"}
# A classroom projector: every slide of these chapters must fit it (tests/browser/deck.py).
SCREEN = {"width": 1280, "height": 720}
# The chapters presented slide by slide: by default four (each takes a minute or two);
# TC_DECKS=all presents every chapter, TC_DECKS=00_,07_ the ones named.
# Chapter 09's deck is always presented, by test_chapter09_once.py on its one executed page.
DECK_PREFIXES = os.environ.get("TC_DECKS", "02_,05_,06_")
DECKS = [
    p
    for p in NOTEBOOKS
    if (DECK_PREFIXES == "all" or p.stem.startswith(tuple(DECK_PREFIXES.split(","))))
    and not p.stem.startswith("09_")
]
PROSE_PX, CODE_PX, TEXT_PX, FIGURE_PX = 19.5, 16, 16, 12  # smallest sizes read from the back
MAX_STEPS = 200


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
            press(page, "Space")  # the next step: a fragment, a subslide below, or the next slide
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
        stop_deck(page)
        page.close()
        shutdown_kernels(lab)


@pytest.mark.browser
@pytest.mark.parametrize("notebook", DECKS, ids=[p.stem for p in DECKS])
def test_every_slide_fits_a_projector_and_reads_from_the_back(notebook, lab, browser):
    page = browser.new_page(viewport=SCREEN)
    try:
        open_notebook(page, lab, notebook.name)
        run_all(page)
        wait_executed(page)
        every_slide_fits(page, notebook.stem)
    finally:
        page.close()
        shutdown_kernels(lab)


def every_slide_fits(page, stem: str) -> None:
    """Presents the executed chapter on ``page`` at 1280×720 from its first cell and steps with
    Space through every fragment, subslide and slide: each must fit the screen, prose ≈ 20 px,
    code ≥ 16 px, no bar value of a chart cut by its plot area (deck.BARS_JS). Leaves the deck,
    pass or fail."""
    page.set_viewport_size(SCREEN)
    try:
        start_deck(page)
        seen, problems, smallest, slides = [], {}, {}, {}
        bar_values = 0  # the most on one slide
        at = position(page)
        for _ in range(MAX_STEPS):
            state = slide_state(page)
            seen.append(at)
            key = tuple(state["cells"])
            slides[str(key)] = dict(zip(map(str, key), state["heights"]))
            # One picture per slide, taken again at each step: the last shows all of it.
            (BUILD / "deck").mkdir(parents=True, exist_ok=True)
            shot = f"{stem}-{list(slides).index(str(key)):02d}.png"
            page.screenshot(path=str(BUILD / "deck" / shot))
            for p in state["problems"]:
                problems.setdefault(f"slide of cells {list(key)}: {p.split(' spans')[0]}", p)
            for c in page.evaluate(CLIPPED_JS):  # the deck's larger text must still fit its figure
                problems.setdefault(f"slide of cells {list(key)}: {c['text']}", f"clipped by {c['over']} px")
            bars = page.evaluate(BARS_JS)  # a squeezed chart must not cut its bars' values
            bar_values = max(bar_values, bars["checked"])
            for b in bars["past"]:
                problems.setdefault(
                    f"slide of cells {list(key)}: bar value {b['text']} of {b['title']!r}",
                    f"drawn {b['over']} px past its plot area",
                )
            for kind in ("prose", "code", "other", "figure"):
                if state[kind] is not None and state[kind] < smallest.get(kind, (99, ""))[0]:
                    smallest[kind] = (state[kind], state["where"].get(kind, ""))
            nxt = press(page, "Space")
            if nxt == at:
                break
            at = nxt
        print(f"\n{stem}: {len(seen)} steps, {len(slides)} slides, smallest text {smallest}")
        BUILD.mkdir(exist_ok=True)
        (BUILD / f"deck-{stem}.json").write_text(
            json.dumps(
                {"steps": len(seen), "slides": slides, "smallest": smallest, "bar_values": bar_values},
                indent=1,
            )
        )
        if stem.startswith("05_"):  # its chart of the three heads' jobs: 3 heads × 3 jobs and more
            assert bar_values >= 9, f"at most {bar_values} bar values were on one slide"
        shown = {int(c.rstrip("~")) for step in seen for c in step}
        assert len(seen) > 3 and len(shown) > 5, f"the deck hardly moved: {seen[:5]}"
        assert not problems, "\n".join(f"{k}: {v}" for k, v in problems.items())
        for kind, floor in (
            ("prose", PROSE_PX),
            ("code", CODE_PX),
            ("other", TEXT_PX),
            ("figure", FIGURE_PX),
        ):
            if kind in smallest:
                assert smallest[kind][0] >= floor, f"{kind} text of {smallest[kind]} px is below {floor} px"
        assert "prose" in smallest and "code" in smallest

        # The keys the README gives instructors: ← back, → forward, Space next, Esc leaves.
        last = position(page)
        back = press(page, "ArrowLeft")
        assert back != last, "← did not go back"
        assert press(page, "ArrowRight") == last, "→ did not come forward again"
        assert press(page, "Shift+Space") != last, "Shift+Space did not go back"
        press(page, "Escape")
        assert not presenting(page), "Esc did not leave the deck"
    finally:
        stop_deck(page)
