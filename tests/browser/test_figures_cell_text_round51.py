"""Numbers in heatmap cells that fit at 12 px are drawn at 12 px, not hidden (static/figure_view.js:
fitCellText), in a plain page with the page's real FigureView code.

Chapter 06's mask explorer on a 1280 × 720 slide: its scores panel is about 228 px wide, six
columns of 38 px. Plotly sizes cell numbers by a rule of thumb, 0.65 em a character of the
longest number: "-0.12" came out at 11 px, under the 12 px below which the page hides a number,
and the panel showed colours and no numbers (since the 6 px between row labels and cells, commit
af9e0f4, took the plot from 39 px columns to 38). At 12 px "-0.12" takes about 30 px of the 38.
"""

from __future__ import annotations

import pytest
import torch
from transformer_course import figures
from transformer_course.widgets.view import figure_json

from .test_heatmap_labels import lab_page  # noqa: F401 (a fixture: a page with the live view's code)

pytestmark = pytest.mark.browser

# Draw ``spec`` in a FigureView ``width`` px wide; every cell number's text, font size, whether
# it shows, its width, and the width of a column of cells.
SHOW_JS = """async ([spec, width]) => {
  const el = document.createElement('div');
  el.style.width = width + 'px';
  document.body.appendChild(el);
  const model = new window.__tcModel({_library: 'IPY_MODEL_library', _spec: spec, _revision: 1},
                                     window.__tcManager);
  await window.__tcView.render({model, el});
  const div = el.querySelector('.tc-figure');
  while (div.dataset.tcRevision !== '1' || div.dataset.tcBusy) await new Promise(r => setTimeout(r, 5));
  await new Promise(r => setTimeout(r, 300));  // a restyle after the plot, and its own plot
  const x = div._fullLayout.xaxis;
  const numbers = [...div.querySelectorAll('g.heatmap-label text')].filter(t => t.textContent.trim())
    .map(t => ({text: t.textContent, size: parseFloat(getComputedStyle(t).fontSize),
                shown: getComputedStyle(t).display !== 'none', width: t.getBBox().width}));
  const result = {numbers, column: Math.abs(x.l2p(1) - x.l2p(0))};
  el.remove();
  return result;
}"""


def masked_scores() -> str:
    """The mask explorer's scores panel for chapter 06's first sentence: 4 words and 2 <pad>,
    causal + padding mask, scores with a minus sign (five characters: "-0.12")."""
    tokens = ["i", "love", "deep", "learning", "<pad>", "<pad>"]
    scores = torch.tensor([[0.04, 0.5, 0.3, 0.2, 0.1, 0.0]]).repeat(6, 1) - torch.arange(6)[:, None] * 0.13
    allowed = torch.ones(6, 6, dtype=torch.bool).tril()
    allowed[:, 4:] = False
    fig = figures.scores_heatmap(
        scores.masked_fill(~allowed, float("-inf")),
        tokens,
        title="Scores after masking (grey = −∞)",
        masked_legend=False,
    )
    return figure_json(fig)


def drawn(page, width: int) -> dict:
    found = page.evaluate(SHOW_JS, [masked_scores(), width])
    scores = [n for n in found["numbers"] if n["text"] != "−∞"]
    assert scores, f"the case at hand: numbers printed in the cells, {found}"
    return {"scores": scores, "column": found["column"]}


def test_cell_numbers_that_fit_at_12_px_are_drawn_at_12_px_not_hidden(lab_page):  # noqa: F811
    found = drawn(lab_page, 345)  # a plot of about 228 px: six columns of 38 px, as on the slide
    assert 36 <= found["column"] <= 40, f"the case at hand: 38 px columns, got {found['column']}"
    scores = found["scores"]
    assert all(n["shown"] and n["size"] >= 12 for n in scores), f"numbers hidden or under 12 px: {scores}"
    assert all(n["width"] <= found["column"] - 4 for n in scores), f"a number wider than its cell: {scores}"


def test_cell_numbers_that_would_not_fit_are_still_hidden(lab_page):  # noqa: F811
    found = drawn(lab_page, 250)  # columns of about 22 px: "-0.12" needs 30 at 12 px
    shown = [n for n in found["scores"] if n["shown"]]
    assert not shown, f"numbers shown though they do not fit {found['column']:.0f} px columns: {shown}"
