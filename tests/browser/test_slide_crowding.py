"""Crowded heatmaps on a 1280 × 720 slide: every tick label readable, none on top of another.

A small notebook (made-up training snapshots, an untrained model: it runs in seconds) shows
chapter 08's AttentionHistoryExplorer and chapter 07's ModelExplorer below code as long as
the chapters' own; the deck is presented in JupyterLab Light and Dark, and the tick labels of
each figure are measured in the page. The history's heads once had 8.5 px a row for 12 px
words (ten pairs overlapped); the model's seven source words were slanted and overlapping; the
heads' colour bar had its title "weight" on top of its "1".
"""

from __future__ import annotations

import time

import nbformat
import pytest

from .deck import press, start_deck, stop_deck
from .lab import BUILD, open_notebook, run_all, shutdown_kernels, wait_executed
from .test_theme import set_theme

pytestmark = pytest.mark.browser

SCREEN = {"width": 1280, "height": 720}
MIN_FONT_PX = 12  # figure_view.js: DECK_MIN_FONT, tests/browser/test_present.py: FIGURE_PX
NOTEBOOK = "zz_slide_crowding.ipynb"
MARGIN_PX = 12  # the least room under the last thing on a slide

# Chapter 08's attention history, made up: two sentences and a snapshot of a step (snap(step)).
HISTORY_SETUP = """\
sentences = [s.split() for s in ("the pizza came out of the oven and it tasted good",
                                 "the table came out of the train and it was broken")]
def snap(step, n=11, heads=2):
    g = torch.Generator().manual_seed(step)
    return {"pointer": torch.softmax(torch.randn(2, n, generator=g), -1),
            "encoder": torch.softmax(3 * torch.randn(2, heads, n, n, generator=g), -1),
            "wins": step / 100, "predicate": torch.rand(heads, generator=g)}
"""

SETUP = f"""\
import torch
from transformer_course import widgets
from transformer_course.model import Transformer, TransformerConfig
from transformer_course.tokenizer import course_vocab

{HISTORY_SETUP}snapshots = {{step: snap(step) for step in (0, 10, 20, 40, 60, 100)}}
vocab = course_vocab()
torch.manual_seed(0)
config = TransformerConfig(vocab_size=len(vocab), d_model=32, num_heads=4,
                           num_encoder_layers=2, num_decoder_layers=2)
"""

# As long as chapter 08's cell (five lines): the code's height is taken from the slide's room.
HISTORY = """\
history_explorer = widgets.AttentionHistoryExplorer(
    snapshots, sentences,
    [8, 8], [1, 1], [6, 6])
history_explorer.controls["step"].value = 100
history_explorer"""

# As chapter 07's cell (two lines).
MODEL = """\
widgets.ModelExplorer(Transformer(config), vocab,   # the config above: 2 + 2 layers, 4 heads
                      source="the pizza came out of the oven", target="it tasted very good")"""

# Per figure of a cell: its tick labels' boxes and sizes, pairs of labels that overlap, and for
# slanted labels the distance between neighbours across the slant (their boxes overlap anyway).
TICKS_JS = """(cell) => [...cell.querySelectorAll('.tc-figure')].map(div => {
  const title = (div.querySelector('.gtitle') || {}).textContent || '';
  const labels = (sel) => [...div.querySelectorAll(sel)].filter(t => t.textContent.trim()).map(t => {
    const r = t.getBoundingClientRect(), m = /rotate\\((-?[\\d.]+)/.exec(t.getAttribute('transform') || '');
    return {text: t.textContent, x0: r.left, x1: r.right, y0: r.top, y1: r.bottom,
            size: parseFloat(getComputedStyle(t).fontSize), angle: m ? +m[1] : 0}; });
  const overlapping = (list) => {
    const pairs = [];
    for (let i = 0; i < list.length; i++) for (let j = i + 1; j < list.length; j++) {
      const a = list[i], b = list[j];
      const x = Math.min(a.x1, b.x1) - Math.max(a.x0, b.x0), y = Math.min(a.y1, b.y1) - Math.max(a.y0, b.y0);
      if (x > 0.5 && y > 0.5) pairs.push(`${a.text}/${b.text} by ${Math.min(x, y).toFixed(1)} px`);
    }
    return pairs; };
  const y = labels('.ytick text'), x = labels('.xtick text'), bar = labels('.colorbar text');
  const angle = x.length ? x[0].angle : 0;
  // A slanted label's end (angle < 0) or start (angle > 0) sits under its column.
  const at = x.map(t => (angle < 0 ? t.x1 : t.x0)).sort((a, b) => a - b);
  const pitch = Math.min(...at.slice(1).map((v, i) => v - at[i]).filter(d => d > 0.1));
  return {title, yLabels: y.length, xLabels: x.length, angle,
          smallest: Math.min(...[...y, ...x].map(t => t.size)),
          yOverlaps: overlapping(y), xOverlaps: angle ? [] : overlapping(x), barOverlaps: overlapping(bar),
          across: angle ? +(pitch * Math.sin(Math.abs(angle) * Math.PI / 180)).toFixed(1) : null,
          xSize: Math.max(...x.map(t => t.size))};
})"""


@pytest.fixture(scope="module")
def notebook(lab):
    nb = nbformat.v4.new_notebook()
    cells = [
        nbformat.v4.new_markdown_cell("# Crowded heatmaps on a slide"),
        nbformat.v4.new_code_cell(SETUP),
        nbformat.v4.new_markdown_cell("## Explore: watch the attention form"),
        nbformat.v4.new_code_cell(HISTORY),
        nbformat.v4.new_markdown_cell("## Explore the whole model"),
        nbformat.v4.new_code_cell(MODEL),
    ]
    kinds = ["slide", "skip", "slide", "subslide", "slide", "subslide"]
    for cell, kind in zip(cells, kinds):
        cell.metadata["slideshow"] = {"slide_type": kind}
    nb.cells = cells
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3 (ipykernel)",
        "language": "python",
    }
    nbformat.write(nb, str(lab.root / NOTEBOOK))
    return NOTEBOOK


def present_until(page, index: int) -> None:
    """Step through the deck (started at the first cell) until cell ``index`` is shown."""
    cell = page.locator(".jp-Notebook-cell").nth(index)
    for _ in range(12):
        state = cell.get_attribute("class") or ""
        if "jp-deck-mod-onscreen" in state and "jp-deck-mod-visible" in state:
            time.sleep(0.5)
            return
        press(page, "Space")
    raise AssertionError(f"cell {index} never came on screen in the deck")


def check_ticks(figures: list[dict], where: str) -> list[str]:
    problems = []
    for f in figures:
        name = f"{where}, {f['title'][:40]!r}"
        if f["smallest"] < MIN_FONT_PX:
            problems.append(f"{name}: a tick label of {f['smallest']} px")
        for kind in ("yOverlaps", "xOverlaps", "barOverlaps"):
            if f[kind]:
                problems.append(f"{name}: overlapping tick labels {f[kind][:4]}")
        if f["across"] is not None and f["across"] < f["xSize"]:
            problems.append(f"{name}: slanted labels {f['across']} px apart for {f['xSize']} px text")
    return problems


@pytest.mark.parametrize("theme, light", [("JupyterLab Light", True), ("JupyterLab Dark", False)])
def test_tick_labels_of_crowded_heatmaps_read_on_a_slide(notebook, lab, browser, theme, light):
    page = browser.new_page(viewport=SCREEN)
    try:
        open_notebook(page, lab, notebook)
        set_theme(page, theme, light)
        run_all(page)
        wait_executed(page)
        start_deck(page)
        measured, problems = {}, []
        (BUILD / "screenshots").mkdir(parents=True, exist_ok=True)
        for label, index in (("history", 3), ("model", 5)):
            present_until(page, index)
            cell = page.locator(".jp-Notebook-cell").nth(index)
            measured[label] = cell.evaluate(TICKS_JS)
            shot = f"slide-crowding-{label}-{'light' if light else 'dark'}.png"
            page.screenshot(path=str(BUILD / "screenshots" / shot))
            problems += check_ticks(measured[label], label)
            if label == "model":  # its table of shapes, last on the slide, clear of the bottom edge
                bottom = cell.evaluate("c => c.querySelector('.tc-shapes').getBoundingClientRect().bottom")
                if bottom > SCREEN["height"] - MARGIN_PX:
                    problems.append(f"model: the table of shapes ends at y = {bottom:.0f} px")
        assert not problems, "\n".join(problems)
        heads = next(f for f in measured["history"] if f["title"].startswith("Encoder"))
        assert heads["yLabels"] == 11 and heads["xLabels"] == 22, heads  # every word, none left out
        model = measured["model"][0]
        assert model["angle"] == 0, f"the model's source words are slanted: {model}"
    finally:
        stop_deck(page)
        if page.evaluate("document.body.dataset.jpThemeLight") == "false":
            set_theme(page, "JupyterLab Light", True)
        page.close()
        shutdown_kernels(lab)
