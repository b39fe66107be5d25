"""What a look at chapters 03, 04 and 06 on a 1280 × 720 projector found, measured in Chromium.

1. Chapter 06's batch box held "tell me about pizza and cheese" on two lines: "and cheese" read
   as a fourth sentence of three. Chapter 04's sentence box showed "...of the oven and it" and
   hid the rest. Each chapter's text must fit its box at a slide's 16 px, line by line.
2. Chapter 03's bar chart of one query's scores wrote a negative bar's value ("-0.40") below
   the bar's end, on top of the word under the axis ("cat").
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from plotly.offline import get_plotlyjs
from transformer_course import figures, widgets
from transformer_course.attention import SingleHeadAttention
from transformer_course.embeddings import TokenEmbedding
from transformer_course.model import Transformer, TransformerConfig
from transformer_course.tokenizer import course_vocab

pytestmark = [pytest.mark.browser, pytest.mark.timeout(300)]

CHAPTERS = Path(__file__).resolve().parents[2] / "chapters"
# On a slide (static/course.css): widgets at 16 px, a label column of 130 px and its margin.
DECK_FONT_PX = 16
LABEL_PX = 140
# The chapters' own texts (each checked below to be still in its chapter).
MASKING_BATCH = ("I love deep learning", "the cat sat", "tell me about pizza and cheese")
SCALING_TEXT = "the pizza came out of the oven and it tasted good"

# How wide each line is in a box ``width`` px wide, font as on a slide, and the room inside it.
FIT_JS = """([tag, width, font, lines]) => {
  const box = document.createElement(tag);
  box.style.cssText = `box-sizing: border-box; width: ${width}px; font: ${font}px ${
      tag === 'textarea' ? 'monospace' : 'sans-serif'}; padding: 4px 8px; border: 1px solid;`;
  document.body.appendChild(box);
  const room = box.clientWidth - 16;
  const widths = lines.map(line => {
    const span = document.createElement('span');
    span.style.cssText = `font: ${font}px ${tag === 'textarea' ? 'monospace' : 'sans-serif'};` +
        'white-space: pre;';
    span.textContent = line;
    document.body.appendChild(span);
    return span.getBoundingClientRect().width;
  });
  return {room, widths};
}"""


def _px(width: str) -> int:
    assert width.endswith("px"), f"a box's width in px, got {width!r}"
    return int(width[:-2])


def _chapter_holds(stem: str, *texts: str) -> None:
    source = next(CHAPTERS.glob(f"{stem}*.py")).read_text()
    for text in texts:
        assert text in source, f"{stem}: the chapter no longer has {text!r}; update this test"


def _explorer_boxes():
    """(name, kind of box, its width in px, the lines it holds by default in its chapter)."""
    _chapter_holds("06_", *MASKING_BATCH)
    _chapter_holds("04_", SCALING_TEXT)
    vocab = course_vocab()
    embed = TokenEmbedding(len(vocab), 16, scale=False)
    masks = widgets.MaskExplorer(vocab, embed, SingleHeadAttention(16), sentences=MASKING_BATCH)
    scaling = widgets.ScalingExplorer(vocab, embed, SCALING_TEXT)
    batch, sentence = masks.controls["sentences"], scaling.controls["text"]
    # Chapter 07's model explorer, with the chapter's own sentences (round 41: "oven" was hidden).
    _chapter_holds("07_", MODEL_SOURCE, MODEL_TARGET)
    config = TransformerConfig(vocab_size=len(vocab), d_model=16, num_heads=2, num_encoder_layers=1,
                               num_decoder_layers=1, d_ff=32)  # fmt: skip
    model = widgets.ModelExplorer(Transformer(config), vocab, source=MODEL_SOURCE, target=MODEL_TARGET)
    source, target = model.controls["source"], model.controls["target"]
    return [
        ("chapter 06's batch", "textarea", _px(batch.layout.width), batch.value.splitlines()),
        ("chapter 04's sentence", "input", _px(sentence.layout.width), [sentence.value]),
        ("chapter 07's source", "input", _px(source.layout.width), [source.value]),
        ("chapter 07's target", "input", _px(target.layout.width), [target.value]),
    ]


MODEL_SOURCE, MODEL_TARGET = "the pizza came out of the oven", "it tasted very good"


@pytest.mark.parametrize("which", [0, 1, 2, 3], ids=["06-batch", "04-sentence", "07-source", "07-target"])
def test_a_chapters_text_fits_its_box_on_a_slide(browser, which):
    name, tag, width, lines = _explorer_boxes()[which]
    page = browser.new_page()
    try:
        page.set_content("<!doctype html><body></body>")
        fit = page.evaluate(FIT_JS, [tag, width - LABEL_PX, DECK_FONT_PX, lines])
    finally:
        page.close()
    too_long = [(line, round(w)) for line, w in zip(lines, fit["widths"]) if w > fit["room"]]
    assert not too_long, (
        f"{name} box ({width} px, {round(fit['room'])} px for text at {DECK_FONT_PX} px) cuts or "
        f"wraps {too_long}"
    )


# Every bar's value and every word under the axis, as drawn: their boxes on the page.
BAR_TEXT_JS = """() => {
  const box = el => { const r = el.getBoundingClientRect();
    return {text: el.textContent, top: r.top, bottom: r.bottom, left: r.left, right: r.right}; };
  return {values: [...document.querySelectorAll('.bartext')].map(box),
          words: [...document.querySelectorAll('.xtick text')].map(box)};
}"""


def _overlap(a: dict, b: dict) -> bool:
    return (
        a["left"] < b["right"]
        and b["left"] < a["right"]
        and a["top"] < b["bottom"]
        and b["top"] < a["bottom"]
    )


@pytest.mark.parametrize("size", [(370, 260), (370, 300), (600, 300)], ids=lambda s: f"{s[0]}x{s[1]}")
def test_a_negative_bars_value_stays_off_the_word_under_the_axis(browser, size):
    # Chapter 03's explorer: the row of "i'm", its last score the most negative.
    row = torch.tensor([0.03, 0.37, 0.18, 0.16, -0.40])
    words = ["i'm", "playing", "with", "a", "cat"]
    fig = figures.query_row_figure(row, words, "i'm")
    fig.update_layout(width=size[0], height=size[1])
    page = browser.new_page(viewport={"width": 1280, "height": 720})
    try:
        page.set_content(
            "<!doctype html><body><div id=f></div>"
            f"<script>{get_plotlyjs()}</script>"
            f"<script>Plotly.newPlot('f', {fig.to_json()}).then(() => window.done = true);</script></body>"
        )
        page.wait_for_function("window.done === true")
        drawn = page.evaluate(BAR_TEXT_JS)
    finally:
        page.close()
    assert len(drawn["values"]) == len(words), f"every bar's value is drawn: {drawn['values']}"
    clashes = [(v["text"], w["text"]) for v in drawn["values"] for w in drawn["words"] if _overlap(v, w)]
    assert not clashes, (
        f"at {size[0]}×{size[1]} px a bar's value is drawn on a word under the axis: {clashes}"
    )
