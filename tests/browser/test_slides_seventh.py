"""What an audit of decks 05, 07, 08 and 09 (1280 × 720, JupyterLab Dark) found, measured in the page.

- Chapter 08's "Training loss: the copying bug looks better": the bug's loss fell to 0.002 on a
  log axis whose lowest label was 0.01, nearly a decade of curve with no label under it.
- Chapter 09's StoryExplorer: sixteen heads' labels 13.5 px apart in 16 px type, each on top of
  the next. Row labels closer than their size are drawn smaller (not under 12 px) on a slide.
- Chapter 09's printed stories wrapped inside words on a slide ("sq" / "uatch"): JupyterLab breaks
  a printed line at any character. On a slide it now breaks between words.
"""

from __future__ import annotations

import nbformat
import pytest

from .deck import slide_state, start_deck, stop_deck
from .lab import BUILD, open_notebook, run_all, shutdown_kernels, wait_executed
from .test_slide_crowding import present_until
from .test_slides_sixth import write_notebook
from .test_theme import set_theme

pytestmark = pytest.mark.browser

SCREEN = {"width": 1280, "height": 720}
MIN_FONT_PX = 12  # figure_view.js: DECK_MIN_FONT
NOTEBOOK = "zz_slides_seventh.ipynb"

SETUP = """\
import torch
from transformer_course import figures, widgets
from transformer_course.model import DecoderOnlyTransformer, TransformerConfig
from transformer_course.stories import StoryGenerator, story_vocab

generator, vocab = StoryGenerator(), story_vocab()
config = TransformerConfig(vocab_size=len(vocab), d_model=64, num_heads=16, num_decoder_layers=1,
                           d_ff=128, dropout=0.0, max_len=256, norm_first=True,
                           activation="gelu", positional="learned")
torch.manual_seed(0)
model = DecoderOnlyTransformer(config)
steps = torch.arange(40)
runs = {"shifted (right)": 1.03 + 2.25 * torch.exp(-steps / 3.0),
        "not shifted (the bug)": 0.9 * torch.exp(-steps * 0.155)}"""

# As chapter 08's cell: the bug's loss falls from 0.9 to about 0.002.
LOSSES = """\
figures.depth_figure(runs,
                     title="Training loss: the copying bug looks better", y_title="loss (log scale)",
                     x_title="training step")"""

STORIES = "widgets.StoryExplorer(model, vocab, generator=generator)"  # as chapter 09's cell

# Lines wider than the slide, as chapter 09 prints its stories.
PRINTED = """\
for words in (["squatch", "kitchen", "pizza"], ["crispy", "garden", "lily"], ["the", "cats", "purred"]):
    print(" ".join(words * 14))"""

# Per figure of a cell: its title, and its y tick labels' values, centres and sizes.
ROWS_JS = """(cell) => [...cell.querySelectorAll('.tc-figure')].map(div => ({
  title: (div.querySelector('.gtitle') || {}).textContent || '',
  rows: [...div.querySelectorAll('.ytick text')].filter(t => t.textContent.trim()).map(t => {
    const r = t.getBoundingClientRect();
    return {text: t.textContent, y: (r.top + r.bottom) / 2, size: parseFloat(getComputedStyle(t).fontSize)};
  }),
}))"""

# Words of a cell's printed output drawn on more than one line (split where the line wrapped),
# and how many lines the output took.
SPLIT_WORDS_JS = """(cell) => {
  const pre = cell.querySelector('.jp-OutputArea-output pre');
  const walker = document.createTreeWalker(pre, NodeFilter.SHOW_TEXT);
  const split = [], tops = new Set();
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    for (const m of node.textContent.matchAll(/\\S+/g)) {
      const range = document.createRange();
      range.setStart(node, m.index);
      range.setEnd(node, m.index + m[0].length);
      const lines = new Set([...range.getClientRects()].filter(r => r.width > 0).map(r => Math.round(r.top)));
      lines.forEach(t => tops.add(t));
      if (lines.size > 1) split.push(m[0]);
    }
  }
  return {split, lines: tops.size};
}"""


@pytest.fixture(scope="module")
def notebook(lab):
    cells = [
        nbformat.v4.new_markdown_cell("# Decks 05 to 09 on a projector"),
        nbformat.v4.new_code_cell(SETUP),
        nbformat.v4.new_markdown_cell("## The copying bug's loss"),
        nbformat.v4.new_code_cell(LOSSES),
        nbformat.v4.new_markdown_cell("## Explore: the model writing"),
        nbformat.v4.new_code_cell(STORIES),
        nbformat.v4.new_markdown_cell("## Stories, printed"),
        nbformat.v4.new_code_cell(PRINTED),
    ]
    kinds = ["slide", "skip", "slide", "subslide", "slide", "subslide", "slide", "subslide"]
    return write_notebook(lab, NOTEBOOK, cells, kinds)


def figure_titled(page, index: int, start: str) -> dict:
    found = page.locator(".jp-Notebook-cell").nth(index).evaluate(ROWS_JS)
    return next(f for f in found if f["title"].startswith(start))


def log_label_problems(figure: dict, lowest: float) -> list[str]:
    """The lowest label of a log axis further than a factor 2.5 above the curve's lowest point."""
    values = [float(r["text"].replace("−", "-").replace(",", "")) for r in figure["rows"]]
    problems = [] if len(values) >= 3 else [f"loss axis: only {values} labelled over three decades"]
    if not values or min(values) > 2.5 * lowest:
        problems.append(f"loss axis: labels {values}, none near the curve's lowest point {lowest}")
    return problems


def row_problems(figure: dict) -> list[str]:
    """Row labels closer than their size (overlapping), or smaller than the deck's least."""
    rows = sorted(figure["rows"], key=lambda r: r["y"])
    problems = [f"{r['text']!r} is {r['size']} px" for r in rows if r["size"] < MIN_FONT_PX]
    problems += [
        f"{a['text']!r} and {b['text']!r} {b['y'] - a['y']:.1f} px apart for {a['size']} px text"
        for a, b in zip(rows, rows[1:])
        if b["y"] - a["y"] < a["size"]
    ]
    return problems


def test_slides_keep_labels_apart_and_words_whole(notebook, lab, browser):
    page = browser.new_page(viewport=SCREEN)
    shots = BUILD / "screenshots"
    shots.mkdir(parents=True, exist_ok=True)
    try:
        open_notebook(page, lab, notebook)
        set_theme(page, "JupyterLab Dark", False)
        run_all(page)
        wait_executed(page)
        problems = []
        start_deck(page)
        for label, index in (("losses", 3), ("stories", 5), ("printed", 7)):  # the deck goes forward
            present_until(page, index)
            page.screenshot(path=str(shots / f"slides-seventh-{label}-dark.png"))
            problems += [f"{label} slide: {p}" for p in slide_state(page)["problems"]]
            if label == "losses":
                figure = figure_titled(page, index, "Training loss")
                problems += log_label_problems(figure, lowest=0.9 * 2.718281828 ** (-39 * 0.155))
            elif label == "stories":
                problems += [f"heads: {p}" for p in row_problems(figure_titled(page, index, "Each head"))]
            else:
                printed = page.locator(".jp-Notebook-cell").nth(index).evaluate(SPLIT_WORDS_JS)
                assert printed["lines"] > 3, f"the printed lines should wrap on the slide: {printed}"
                problems += [f"printed: {word!r} split across two lines" for word in printed["split"]]
        assert not problems, "\n".join(problems)
    finally:
        stop_deck(page)
        if page.evaluate("document.body.dataset.jpThemeLight") == "false":
            set_theme(page, "JupyterLab Light", True)
        page.close()
        shutdown_kernels(lab)
