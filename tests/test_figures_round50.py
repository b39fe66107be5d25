"""Round 50, task B: chapter 06's masked cells, and matrix_heatmap's every_row_label.

A masked score (−∞) was a gap and a masked weight a 0.00 of the scale: on either page a near-zero
cell looked the same, and only the printed number told them apart. Each masked cell is now drawn
by a trace of its own, in a grey on no colour scale, and named in a legend; the real cells keep
their values. Colours are read as each page draws them: the light figure as built, the dark one
through theme_swap's colours (static/theme_swap.js).
"""

import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
import torch
from test_figures_package import _contrast_over
from test_figures_round41 import scale_at
from transformer_course import figures, widgets
from transformer_course.attention import SingleHeadAttention
from transformer_course.embeddings import TokenEmbedding
from transformer_course.figures import themes
from transformer_course.masks import causal_mask
from transformer_course.tokenizer import course_vocab

STATIC = Path(widgets.__file__).parent.parent / "static"
TOKENS = ["i", "love", "deep", "learning"]
CAUSAL = causal_mask(4)  # (4, 4) bool, True = may attend
# Below any colour difference a reader tells at a glance: the grey must clear it against the
# page and against the cell of the smallest value, in both themes.
APART = 1.5


def on_page(theme: themes.Theme, colour: str) -> str:
    """A colour of the light figure as ``theme``'s page draws it."""
    return colour if theme is themes.LIGHT else themes.theme_swap()["colours"].get(colour, colour)


def masked_scores() -> torch.Tensor:
    """Causal scores (4, 4): −∞ above the diagonal, and a real score of 0.001 (nearly zero)."""
    scores = torch.tensor([[0.001, 1, 1, 1], [2.0, -1.0, 1, 1], [0.5, 1.5, -2.0, 1], [1.0, -0.5, 0.2, 3.0]])
    return scores.masked_fill(~CAUSAL, float("-inf"))


def near_zero_weights() -> torch.Tensor:
    """Causal weights (4, 4): 0 above the diagonal, 0.001 (prints as 0.00) at [3, 0]."""
    weights = torch.tensor([[1.0, 0, 0, 0], [0.6, 0.4, 0, 0], [0.3, 0.3, 0.4, 0], [0.001, 0.499, 0.25, 0.25]])
    return weights


def layer_of_masked(fig) -> dict:
    """The trace that draws the masked cells: one colour, named in the legend."""
    layers = [t for t in fig.data if t.type == "heatmap" and t.showlegend]
    assert len(layers) == 1, f"expected one masked layer, got {[t.name for t in fig.data]}"
    return layers[0]


def assert_masked_cells_stand_apart(fig, theme: themes.Theme, smallest: float, text: str) -> None:
    """The masked cells (above the diagonal) are drawn off the colour scale, apart from the
    page and from the cell of value ``smallest``, with ``text`` in each, in ``theme``."""
    main, layer = fig.data[0], layer_of_masked(fig)
    assert list(fig.data).index(layer) > 0, "drawn first, the scale's cells would cover it"
    blocked = ~CAUSAL.numpy()
    drawn = ~np.isnan(np.asarray(layer.z, dtype=float))
    assert np.array_equal(drawn, blocked)
    assert [t for t in np.asarray(layer.text).ravel() if t] == [text] * int(blocked.sum())
    greys = {c for _, c in layer.colorscale}
    assert len(greys) == 1, "a masked cell has one colour, whatever its value"
    grey = on_page(theme, greys.pop())
    scale = [[p, on_page(theme, c)] for p, c in main.colorscale]
    assert grey not in {c for _, c in scale}
    near_zero = scale_at(scale, (smallest - main.zmin) / (main.zmax - main.zmin))
    page = theme.template.layout.paper_bgcolor
    assert _contrast_over(grey, near_zero) >= APART, (grey, near_zero)
    assert _contrast_over(grey, page) >= APART, (grey, page)
    assert "masked" in layer.name and layer_of_masked(fig).showlegend


@pytest.mark.parametrize("theme", [themes.LIGHT, themes.DARK], ids=["light", "dark"])
def test_masked_scores_are_grey_and_named_not_a_gap(theme):
    # Before: −∞ was a NaN gap, the page's own colour, beside a 0.001 drawn in the scale's
    # white (light) or #2b2b2b (dark): no second trace, nothing named.
    scores = masked_scores()
    fig = figures.scores_heatmap(scores, TOKENS, title="Masked scores")
    assert_masked_cells_stand_apart(fig, theme, smallest=0.001, text="−∞")
    # The real cells keep their values, and so their colours on the scale.
    z = np.asarray(fig.data[0].z, dtype=float)
    assert np.allclose(z[CAUSAL.numpy()], scores[CAUSAL].numpy()) and np.isnan(z[~CAUSAL.numpy()]).all()


@pytest.mark.parametrize("theme", [themes.LIGHT, themes.DARK], ids=["light", "dark"])
def test_masked_weights_are_grey_and_apart_from_a_near_zero_weight(theme):
    # Before: attention_heatmap took no mask, and a masked 0 and a real 0.001 were both 0.00.
    weights = near_zero_weights()
    fig = figures.attention_heatmap(weights, TOKENS, title="Weights", mask=CAUSAL)
    assert_masked_cells_stand_apart(fig, theme, smallest=0.001, text="0")
    # The data is still the weights, masked zeros included (the grey layer covers them).
    assert np.allclose(np.asarray(fig.data[0].z, dtype=float), weights.numpy())


def test_a_figure_with_nothing_masked_is_as_before():
    fig = figures.attention_heatmap(near_zero_weights(), TOKENS, mask=torch.ones(4, 4, dtype=torch.bool))
    assert len(fig.data) == 1 and fig.layout.showlegend is None
    assert len(figures.scores_heatmap(torch.randn(4, 4), TOKENS).data) == 1


@pytest.mark.parametrize(
    "mask, match",
    [
        (CAUSAL.float(), "mask must be a bool tensor"),
        (torch.ones(3, 4, dtype=torch.bool), r"mask must have the shape of the weights \(4, 4\)"),
        ([[True] * 4] * 4, "mask"),
    ],
)
def test_attention_heatmap_rejects_a_mask_that_is_not_the_weights_bool_mask(mask, match):
    with pytest.raises(ValueError, match=match):
        figures.attention_heatmap(near_zero_weights(), TOKENS, mask=mask)


def test_without_the_legend_the_figure_keeps_its_height_for_the_cells():
    # The explorer's panels, a third of a slide: the legend's row took the height the numbers
    # needed. Without it, the grey is drawn all the same, and the figure is as tall as unmasked.
    plain = figures.scores_heatmap(torch.randn(4, 4), TOKENS)
    for fig in (
        figures.scores_heatmap(masked_scores(), TOKENS, masked_legend=False),
        figures.attention_heatmap(near_zero_weights(), TOKENS, mask=CAUSAL, masked_legend=False),
    ):
        assert fig.layout.showlegend is False and layer_of_masked(fig)
        assert fig.layout.height == plain.layout.height and fig.layout.legend.y is None
    shown = figures.scores_heatmap(masked_scores(), TOKENS)
    assert shown.layout.height > plain.layout.height and shown.layout.legend.yref == "container"


@pytest.mark.parametrize("bad", ["no", 0, None])
def test_masked_legend_must_be_true_or_false(bad):
    with pytest.raises(ValueError, match="masked_legend must be True or False"):
        figures.scores_heatmap(masked_scores(), TOKENS, masked_legend=bad)
    with pytest.raises(ValueError, match="masked_legend must be True or False"):
        figures.attention_heatmap(near_zero_weights(), TOKENS, masked_legend=bad)


def test_the_mask_explorer_draws_its_masked_scores_and_weights_grey():
    vocab = course_vocab()
    explorer = widgets.MaskExplorer(
        vocab, TokenEmbedding(len(vocab), 16, scale=False), SingleHeadAttention(16)
    )
    allowed = np.asarray(explorer.figures["mask"].data[0].z, dtype=float) == 1  # (T, T)
    for view, text in (("scores", "−∞"), ("weights", "0")):
        layer = layer_of_masked(explorer.figures[view])
        assert np.array_equal(~np.isnan(np.asarray(layer.z, dtype=float)), ~allowed), view
        assert set(np.asarray(layer.text)[~allowed]) == {text}
        # Its title names the grey: a legend's row would cost the cells their numbers on a slide.
        assert "grey" in explorer.figures[view].layout.title.text


# --- the colour bar on a slide goes to the scale, not to the grey ---

# withoutCellText from figure_view.js: on a slide, numbers too small to read are dropped and
# the colour bar shown instead, on the last trace dropped.
WITHOUT_TEXT_JS = """
const source = require("fs").readFileSync(process.argv[1], "utf8") + "\\n" +
  require("fs").readFileSync(process.argv[2], "utf8").replace("export default { render };", "");
const withoutCellText = new Function("document", "window",
  source + "\\nreturn withoutCellText;")({body: {dataset: {}}}, {addEventListener() {}});
const spec = JSON.parse(process.argv[3]);
withoutCellText(spec, {traces: [0, 1], bar: true});
process.stdout.write(JSON.stringify(spec.data.map((t) => t.showscale === true)));
"""


def test_on_a_slide_the_colour_bar_is_the_scales_not_the_masked_greys():
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed")
    spec = json.loads(figures.scores_heatmap(masked_scores(), TOKENS).to_json())
    out = subprocess.run(
        [node, "-e", WITHOUT_TEXT_JS, str(STATIC / "column_labels.js"), str(STATIC / "figure_view.js"),
         json.dumps(spec)],
        capture_output=True, text=True, check=True, timeout=60,
    )  # fmt: skip
    assert json.loads(out.stdout) == [True, False]


# --- matrix_heatmap's every_row_label ---


def test_every_row_label_sets_the_meta_the_deck_reads():
    values = torch.rand(16, 4)
    assert figures.matrix_heatmap(values, every_row_label=True).layout.meta == {"every_row": True}
    assert figures.matrix_heatmap(values).layout.meta is None
    assert figures.matrix_heatmap(values, every_row_label=False).layout.meta is None


@pytest.mark.parametrize("bad", ["yes", 1, None])
def test_every_row_label_must_be_true_or_false(bad):
    with pytest.raises(ValueError, match="every_row_label must be True or False"):
        figures.matrix_heatmap(torch.rand(2, 2), every_row_label=bad)
