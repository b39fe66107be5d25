"""An explorer's sliders keep a track to drag in a phone's window (390 px), in JupyterLab.

A slider is one row: its label, its track, its readout. Chapter 09's StoryExplorer and chapter
08's GenerationExplorer give their labels the room their words need ("temperature (0 = greedy)",
"look at new token", "top-k (0 = all)"), so in a window 390 px wide the track shrank to nothing
and only the knob was left ("temperature (0 = greedy)": 5 px), with no room to drag it. Now, in
an explorer narrower than 400 px, each label takes a line of its own and the track and readout
go under it (static/course.css). The explorer's views, in columns of 420 px at least, ran 146 px
past its right edge (the story's lines and the figures' titles cut off): now no column is wider
than the explorer. In a wide window (1280 px) each slider stays one row, as before.

(The offline export shows no sliders: it writes each explorer's settings as text.)
"""

from __future__ import annotations

import nbformat
import pytest
from transformer_course import export

from .lab import BUILD, run_alone, shutdown_kernels
from .test_export_fourth import reader  # noqa: F401 (a fixture)
from .test_slides_sixth import write_notebook

pytestmark = [pytest.mark.browser, pytest.mark.timeout(300)]

NOTEBOOK = "zz_polish_round42.ipynb"
PHONE, WIDE = {"width": 390, "height": 844}, {"width": 1280, "height": 900}
MIN_TRACK_PX = 80  # room to drag a knob (a thumb is about 40 px wide)
NOTES = BUILD / "screenshots"

# Chapter 09's explorer and chapter 08's, on untrained models: the controls do not depend on
# the weights.
STORY = """\
import torch
from transformer_course import widgets
from transformer_course.model import DecoderOnlyTransformer, TransformerConfig
from transformer_course.stories import StoryGenerator, story_vocab

torch.manual_seed(0)
vocab = story_vocab()
config = TransformerConfig(vocab_size=len(vocab), d_model=64, num_heads=16, num_decoder_layers=1,
                           d_ff=128, dropout=0.0, max_len=256, norm_first=True, activation="gelu",
                           positional="learned")
widgets.StoryExplorer(DecoderOnlyTransformer(config), vocab, generator=StoryGenerator())"""
GENERATION = """\
from transformer_course.data import sequence_task
from transformer_course.model import Transformer

task = sequence_task("reverse", num_symbols=8, min_len=3, max_len=6, num_train=40, num_test=5, seed=0)
config = TransformerConfig(vocab_size=len(task.vocab), d_model=32, num_heads=2, num_encoder_layers=1,
                           num_decoder_layers=1, d_ff=64, dropout=0.0, max_len=16)
torch.manual_seed(0)  # as chapter 08 does; untrained, this one writes only <bos>
widgets.GenerationExplorer(Transformer(config), task, text="3 1 4 1 5")"""

# Every slider of every explorer: its label, its track's and label's boxes; and whatever is wider
# than its box (the page, each output, each explorer's row of controls).
SLIDERS_JS = """() => {
  const box = el => { const r = el.getBoundingClientRect();
    return {left: r.left, right: r.right, top: r.top, bottom: r.bottom, width: r.width}; };
  const sliders = [...document.querySelectorAll('.tc-explorer .widget-hslider')].map(s => ({
    label: s.querySelector('.widget-label').textContent.trim(),
    slider: box(s),
    label_box: box(s.querySelector('.widget-label')),
    track: box(s.querySelector('.noUi-target')),
  }));
  const wider = el => el.scrollWidth > el.clientWidth + 1;
  const overflowing = [
    ...(wider(document.documentElement) ? ['the page'] : []),
    ...[...document.querySelectorAll('.jp-OutputArea-output:has(.tc-explorer)')].filter(wider)
      .map(() => 'an explorer\\'s output'),
    ...[...document.querySelectorAll(
      '.tc-explorer > .widget-hbox, .tc-explorer > .widget-gridbox, .tc-explorer .widget-hslider')]
      .filter(wider).map(el => `${el.className}: ${el.scrollWidth} px in ${el.clientWidth}`),
  ];
  const outputs = [...document.querySelectorAll('.jp-OutputArea-output:has(.tc-explorer)')]
    .map(o => o.getBoundingClientRect().right);
  return {sliders, overflowing, outputs, window: document.documentElement.clientWidth};
}"""


@pytest.fixture(scope="module")
def notebook(lab):
    cells = [nbformat.v4.new_code_cell(STORY), nbformat.v4.new_code_cell(GENERATION)]
    return write_notebook(lab, NOTEBOOK, cells, ["-", "-"])


def measured(page, lab, notebook: str, viewport: dict, shot: str) -> dict:
    """Runs the notebook in a window of ``viewport``, the notebook alone in it; the sliders."""
    page.set_viewport_size(viewport)
    run_alone(page, lab, notebook)
    NOTES.mkdir(parents=True, exist_ok=True)
    for i, explorer in enumerate(page.locator(".tc-explorer").all()):
        explorer.evaluate("e => e.scrollIntoView({block: 'start'})")
        page.wait_for_timeout(300)
        page.screenshot(path=str(NOTES / f"{shot}-{i}.png"))
    return page.evaluate(SLIDERS_JS)


@pytest.fixture
def page(browser, lab):
    page = browser.new_page(viewport=PHONE)
    yield page
    page.close()
    shutdown_kernels(lab)


def test_in_a_phones_window_every_slider_keeps_a_track_to_drag(page, lab, notebook):
    state = measured(page, lab, notebook, PHONE, "polish-round42-sliders-390")
    labels = [s["label"] for s in state["sliders"]]
    assert {"temperature (0 = greedy)", "look at new token", "temperature"} <= set(labels), labels
    assert min(state["outputs"]) > 0.75 * PHONE["width"], f"the notebook is not the window's width: {state}"
    short = [
        f"{s['label']!r}: {s['track']['width']:.0f} px"
        for s in state["sliders"]
        if s["track"]["width"] < MIN_TRACK_PX
    ]
    assert not short, f"390 px: tracks under {MIN_TRACK_PX} px, only the knob left: {short}"
    late = [
        f"{s['label']!r} ends at {s['slider']['right']:.0f} px"
        for s in state["sliders"]
        if max(s["slider"]["right"], s["track"]["right"]) > min(state["outputs"]) + 1
    ]
    assert not late, f"390 px: sliders past the output's right edge ({min(state['outputs']):.0f} px): {late}"
    assert not state["overflowing"], f"390 px: wider than its box: {state['overflowing']}"


def test_in_a_wide_window_each_slider_stays_one_row(page, lab, notebook):
    state = measured(page, lab, notebook, WIDE, "polish-round42-sliders-1280")
    assert len(state["sliders"]) >= 9, state["sliders"]
    # One row: the track beside its label (starting past it, their middles level), wide enough.
    apart = [
        s["label"]
        for s in state["sliders"]
        if s["track"]["left"] < s["label_box"]["right"]
        or abs(
            (s["track"]["top"] + s["track"]["bottom"]) / 2
            - (s["label_box"]["top"] + s["label_box"]["bottom"]) / 2
        )
        > 4
    ]
    assert not apart, f"1280 px: sliders whose track left its label's row: {apart}"
    assert min(s["track"]["width"] for s in state["sliders"]) >= MIN_TRACK_PX, state["sliders"]
    assert not state["overflowing"], f"1280 px: wider than its box: {state['overflowing']}"


def test_in_the_export_the_explorers_stay_inside_a_phones_window(tmp_path, reader):  # noqa: F811
    """A guard: the export writes an explorer's settings as text (no sliders), its views in
    columns no wider than the page (export/snapshot.py)."""
    cells = [
        nbformat.v4.new_markdown_cell("# 09 · Sliders"),
        *map(nbformat.v4.new_code_cell, [STORY, GENERATION]),
    ]
    nb = nbformat.v4.new_notebook(cells=cells)
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, tmp_path / "09_sliders.ipynb")
    target, failures = export.export_notebook(tmp_path / "09_sliders.ipynb", tmp_path / "html")
    assert failures == [], failures
    r = reader(target, PHONE["width"])
    NOTES.mkdir(parents=True, exist_ok=True)
    for i, snapshot in enumerate(r.page.locator(".tc-snapshot").all()):
        snapshot.evaluate("e => e.scrollIntoView({block: 'start'})")
        r.page.screenshot(path=str(NOTES / f"polish-round42-export-390-{i}.png"))
    past = r.page.evaluate(PAST_EDGE_JS)
    assert not past, f"export, 390 px: past the window's right edge: {past}"
    assert r.clean(), (r.requests, r.errors)


# Whatever of an explorer's snapshot ends past the window's right edge, and the page if it scrolls.
PAST_EDGE_JS = """() => {
  const right = document.documentElement.clientWidth;
  const past = [...document.querySelectorAll('.tc-snapshot, .tc-snapshot *')]
    .filter(el => el.getBoundingClientRect().right > right + 1)
    .map(el => `${el.tagName.toLowerCase()}.${el.className}`);
  return document.documentElement.scrollWidth > right + 1 ? ['the page', ...past] : past;
}"""
