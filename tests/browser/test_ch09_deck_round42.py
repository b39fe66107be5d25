"""Chapter 09 presented at 1280 × 720 (and its StoryExplorer in a phone's 390 px window), measured.

1. "Read the table of checkpoints…" moved from a slide of its own after the progress curves to a
   fragment under the printed ranges it compares (tests/test_ch09_deck_round42.py): that slide,
   code, printout and nine lines of prose, must still fit and keep its text clear of the arrows.
2. On a slide the StoryExplorer's prompt box, 620 px with a 130 px label column, showed the
   chapter's prompt only up to "… tom bought a pizza . the pizza came": the rest ("out of the
   oven and"), the words the model writes on from, scrolled out of sight inside the box. The box
   must show the whole prompt, its controls must stay inside the slide in the rows they had (the
   figures below get the rest of the screen), and in a phone's window the controls must still
   stay inside the page (a guard: the row shrinks them; it held before the box was widened too).
"""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from transformer_course.widgets import story

from .deck import press, slide_state, start_deck, stop_deck
from .lab import BUILD, open_notebook, run_all, run_alone, shutdown_kernels, wait_executed
from .test_decks_round42 import ARROWS_GAP_PX, UNDER_ARROWS_JS, present_from
from .test_slide_crowding import present_until
from .test_slides_sixth import write_notebook

pytestmark = [pytest.mark.browser, pytest.mark.timeout(300)]

CHAPTER = Path(__file__).resolve().parents[2] / "chapters" / "09_a_gpt_that_writes.py"
NOTEBOOK = "zz_ch09_deck_round42.ipynb"
SCREEN, PHONE = {"width": 1280, "height": 720}, {"width": 390, "height": 844}
WIDGET_CELL = 3  # the explorer's cell in the notebook below
# The prompt with the temperature beside it, then two rows of two sliders: a wider box must not
# push the temperature to a row of its own.
CONTROL_ROWS = 3

# The chapter's model, untrained: the explorer's box and controls do not depend on its weights.
SETUP = """\
import torch
from transformer_course import widgets
from transformer_course.model import DecoderOnlyTransformer, TransformerConfig
from transformer_course.stories import StoryGenerator, story_vocab

torch.manual_seed(0)
vocab = story_vocab()
config = TransformerConfig(vocab_size=len(vocab), d_model=64, num_heads=16, num_decoder_layers=1,
                           d_ff=128, dropout=0.0, max_len=256, norm_first=True, activation="gelu",
                           positional="learned")
model = DecoderOnlyTransformer(config)
generator = StoryGenerator()"""
CALL = "widgets.StoryExplorer(model, vocab, generator=generator)"  # as chapter 09 calls it

# The explorer on screen: its prompt box (how wide the prompt is in the box's own font, the room
# inside the box), and its controls (each one's box, the row's box) against the window's width.
BOXES_JS = """() => {
  const ex = [...document.querySelectorAll('.tc-explorer')].at(-1);
  const input = ex.querySelector('.widget-text input');
  const style = getComputedStyle(input);
  const ctx = document.createElement('canvas').getContext('2d');
  ctx.font = `${style.fontStyle} ${style.fontWeight} ${style.fontSize} ${style.fontFamily}`;
  const box = el => { const r = el.getBoundingClientRect();
    return {left: r.left, right: r.right, top: r.top, bottom: r.bottom}; };
  const row = input.closest('.widget-hbox');
  return {
    prompt: input.value,
    text: ctx.measureText(input.value).width,
    room: input.clientWidth - parseFloat(style.paddingLeft) - parseFloat(style.paddingRight),
    font: parseFloat(style.fontSize),
    row: box(row),
    controls: [...row.children].map(c => ({name: c.textContent.trim().slice(0, 24), ...box(c)})),
    window: document.documentElement.clientWidth,
    output: ex.closest('.jp-OutputArea-output').getBoundingClientRect().right,
  };
}"""


def test_the_chapter_calls_the_explorer_as_measured_here():
    source = CHAPTER.read_text()
    assert f"{CALL}\n" in source, f"chapter 09 no longer calls {CALL!r}; update this test"


@pytest.fixture(scope="module")
def notebook(lab):
    cells = [
        nbformat.v4.new_markdown_cell("# A GPT that writes"),
        nbformat.v4.new_code_cell(SETUP),
        nbformat.v4.new_markdown_cell("## Explore: the model writing\n\nType the start of a story."),
        nbformat.v4.new_code_cell(CALL),
    ]
    return write_notebook(lab, NOTEBOOK, cells, ["slide", "skip", "slide", "subslide"])


def _outside(boxes: dict, right: float) -> list[str]:
    """The controls that end past ``right`` (px), and the row itself if it does."""
    late = [f"{c['name']!r} ends at {c['right']:.0f} px" for c in boxes["controls"] if c["right"] > right + 1]
    if boxes["row"]["right"] > right + 1:
        late.append(f"the row ends at {boxes['row']['right']:.0f} px")
    return late


def _whole_prompt_shown(boxes: dict, where: str) -> None:
    assert boxes["prompt"] == story.PROMPT, f"{where}: the box holds {boxes['prompt']!r}, not the default"
    assert boxes["text"] <= boxes["room"], (
        f"{where}: the prompt is {boxes['text']:.0f} px wide at {boxes['font']:.0f} px, the box has "
        f"{boxes['room']:.0f} px for it: the end of {story.PROMPT!r} scrolls out of sight"
    )


def test_on_a_slide_the_whole_prompt_shows_and_the_controls_fit(notebook, lab, browser):
    page = browser.new_page(viewport=SCREEN)
    shots = BUILD / "screenshots"
    shots.mkdir(parents=True, exist_ok=True)
    try:
        open_notebook(page, lab, notebook)
        run_all(page)
        wait_executed(page)
        start_deck(page)
        present_until(page, WIDGET_CELL)
        page.wait_for_timeout(800)  # the figures' layout on the new slide
        page.screenshot(path=str(shots / "ch09-deck-round42-story-explorer.png"))
        state = slide_state(page)
        assert WIDGET_CELL in state["cells"], f"the explorer is not on the slide: {state}"
        assert not state["problems"], "\n".join(state["problems"])
        boxes = page.evaluate(BOXES_JS)
        _whole_prompt_shown(boxes, "1280 × 720 slide")
        cell = page.locator(".jp-Notebook-cell").nth(WIDGET_CELL)
        right = cell.evaluate("c => c.getBoundingClientRect().right")
        late = _outside(boxes, min(right, boxes["window"]))
        assert not late, f"1280 × 720 slide: controls past the cell's right edge ({right:.0f} px): {late}"
        rows = sorted({round(c["top"]) for c in boxes["controls"]})
        assert len(rows) <= CONTROL_ROWS, (
            f"1280 × 720 slide: the controls take {len(rows)} rows (tops {rows}), not {CONTROL_ROWS}: "
            "a row more leaves the story's figures 48 px less of the screen"
        )
    finally:
        stop_deck(page)
        page.close()
        shutdown_kernels(lab)


def test_in_a_phones_window_the_controls_stay_inside_it(notebook, lab, browser):
    page = browser.new_page(viewport=PHONE)
    try:
        run_alone(page, lab, notebook, settle_ms=500)
        page.locator(".tc-explorer .widget-text input").last.scroll_into_view_if_needed()
        page.wait_for_timeout(500)
        (BUILD / "screenshots").mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(BUILD / "screenshots" / "ch09-deck-round42-story-explorer-390.png"))
        boxes = page.evaluate(BOXES_JS)
        assert boxes["output"] > 0.75 * PHONE["width"], f"the notebook is not the window's width: {boxes}"
        late = _outside(boxes, boxes["output"])
        assert not late, (
            f"390 px window: controls past the output's right edge ({boxes['output']:.0f} px): {late}"
        )
    finally:
        page.close()
        shutdown_kernels(lab)


def checkpoints_slide_fits(page) -> None:
    """On ``page``, chapter 09 executed (test_chapter09_once.py): the slide of `reached = …` and
    its fragments fit and show the paragraph. Leaves the deck, pass or fail."""
    page.set_viewport_size(SCREEN)
    shots = BUILD / "screenshots"
    shots.mkdir(parents=True, exist_ok=True)
    try:
        at = present_from(page, "reached = {w:")
        problems, paragraph_shown = {}, False
        for step in range(8):  # the slide's fragments, then the first step past it
            state = slide_state(page)
            if at not in state["cells"]:
                break
            page.screenshot(path=str(shots / f"ch09-deck-round42-checkpoints-{step}.png"))
            paragraph_shown |= page.evaluate(SHOWN_JS, "Read the table of checkpoints")
            problems.update({p.split(" spans")[0]: p for p in state["problems"]})
            near = page.evaluate(UNDER_ARROWS_JS, ARROWS_GAP_PX)
            problems.update({n["text"]: f"ends {n['gap']} px left of the deck's arrows" for n in near or []})
            press(page, "Space")
        else:
            pytest.fail("chapter 09: still on the slide of `reached = …` after 8 steps")
        assert paragraph_shown, (
            "chapter 09: 'Read the table of checkpoints' never came on the slide of `reached`"
        )
        assert not problems, "\n".join(f"{k}: {v}" for k, v in problems.items())
    finally:
        stop_deck(page)


# Whether a cell starting with ``start`` is on screen and shown (not a fragment still to come).
SHOWN_JS = """(start) => [...document.querySelectorAll('.jp-deck-mod-onscreen.jp-deck-mod-visible')]
    .some(c => (c.querySelector('.jp-RenderedHTMLCommon')?.textContent ?? '').trim().startsWith(start))"""
