"""Round 49, visual review V1: figures an instructor showed and found wrong.

Each test reads a figure's plotly JSON (and, for the slide's row labels, runs the deck's own
rule from static/figure_view.js in node on it) the way the reviewer's screenshots showed it.
"""

import json
import re
import shutil
import subprocess
from functools import cache
from pathlib import Path

import pytest
import torch
from test_figures_package import _contrast_over
from transformer_course import figures, widgets
from transformer_course.figures import palette, themes
from transformer_course.model import DecoderOnlyTransformer, TransformerConfig
from transformer_course.stories import story_vocab

STATIC = Path(widgets.__file__).parent.parent / "static"


@cache
def _story_explorer() -> widgets.StoryExplorer:
    """Chapter 09's explorer over an untrained model of one layer of 16 heads, as the chapter's."""
    torch.manual_seed(0)
    vocab = story_vocab()
    config = TransformerConfig(
        vocab_size=len(vocab), d_model=32, num_heads=16, num_decoder_layers=1, d_ff=32, max_len=64,
        dropout=0.0, positional="learned",
    )  # fmt: skip
    return widgets.StoryExplorer(DecoderOnlyTransformer(config), vocab, max_new_tokens=4)


# --- 1. every head keeps its label on a slide ---

# rowLabelsFit from figure_view.js, with what it reads of the page stubbed: the deck presenting,
# the row labels drawn at the slide's 16 px, no tall view beside it.
ROW_FIT_JS = """
const source = require("fs").readFileSync(process.argv[1], "utf8") + "\\n" +
  require("fs").readFileSync(process.argv[2], "utf8").replace("export default { render };", "");
const {layout, length} = JSON.parse(process.argv[3]);
const document = {body: {dataset: {jpDeckMode: "presenting"}}};
const getComputedStyle = () => ({fontSize: "16px"});
const rowLabelsFit = new Function("document", "getComputedStyle", "window",
  source + "\\nreturn rowLabelsFit;")(document, getComputedStyle, {addEventListener() {}});
const y = layout.yaxis, n = y.tickvals.length;
const div = {layout, closest: () => null, querySelector: () => ({}),
  _fullLayout: {yaxis: {...y, type: "linear", range: [n - 0.5, -0.5], _length: length, _id: "y"}}};
process.stdout.write(JSON.stringify(rowLabelsFit(div)));
"""


def _row_labels_on_slide(layout: dict, length: int) -> list:
    """The y tick values left after figure_view.js fits the rows to a plot ``length`` px tall."""
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed")
    out = subprocess.run(
        [node, "-e", ROW_FIT_JS, str(STATIC / "column_labels.js"), str(STATIC / "figure_view.js"),
         json.dumps(dict(layout=layout, length=length))],
        capture_output=True, text=True, check=True, timeout=60,
    )  # fmt: skip
    return json.loads(out.stdout).get("yaxis.tickvals", layout["yaxis"]["tickvals"])


def test_the_story_explorers_heatmap_labels_every_head_on_a_slide():
    # deck-09-37.png: the 16 heads' plot was 217 px tall at 1280×720, and the slide kept only
    # head 0, 2, … 14: the chapter names odd heads ("they" → layer 0 head 1).
    layout = json.loads(_story_explorer().figures["attention"].to_json())["layout"]
    assert layout["yaxis"]["tickvals"] == list(range(16))
    assert _row_labels_on_slide(layout, 217) == list(range(16))
    # Any other heatmap of that many rows is still thinned there (its labels stay 14 px or more).
    plain = json.loads(figures.matrix_heatmap(torch.rand(16, 4), [f"row {i}" for i in range(16)]).to_json())
    assert _row_labels_on_slide(plain["layout"], 217) == list(range(0, 16, 2))


# --- 2. the chosen token's colour is explained ---


def _keys(fig) -> list[str]:
    """The figure's notes that name a colour: a swatch in that colour, then its words."""
    return [a.text for a in fig.layout.annotations or () if "■" in (a.text or "")]


@pytest.mark.parametrize("truth", [False, True], ids=["alone", "with the stories' own"])
def test_the_chosen_bars_colour_is_named_above_the_plot(truth):
    # lab-09-light-c70.png: the one tall bar vermillion, the legend's one bar entry a blue "model".
    probs = torch.tensor([0.1, 0.6, 0.2, 0.1])
    true_probs = torch.tensor([0.0, 1.0, 0.0, 0.0]) if truth else None
    fig = figures.likeliest_tokens_figure(probs, list("abcd"), chosen=1, true_probs=true_probs)
    assert palette.CHOSEN_COLOUR in fig.data[0].marker.color
    (key,) = _keys(fig)
    assert f'<span style="color:{palette.CHOSEN_COLOUR}">■</span> chosen' == key
    (note,) = fig.layout.annotations
    # at the right: above the plot, or, with a legend (one row under the title since round 51),
    # inside the plot's top right corner, over the least likely bars (beside the legend's row it
    # ran into the row's second entry where the explorer's narrow chart wrapped it)
    where = ("paper", 1, "top") if truth else ("paper", 1.02, "bottom")
    assert (note.yref, note.y, note.yanchor) == where and (note.x, note.xanchor) == (1, "right")
    assert note.yshift == 0
    # without a chosen token, nothing to explain
    plain = figures.likeliest_tokens_figure(probs, list("abcd"), true_probs=true_probs)
    assert not _keys(plain)


def test_the_story_explorers_bars_say_what_their_vermillion_bar_is():
    fig = _story_explorer().figures["distribution"]
    assert palette.CHOSEN_COLOUR in list(fig.data[0].marker.color)
    assert len(_keys(fig)) == 1 and "chosen" in _keys(fig)[0]


# --- 3. lines that coincide all stay visible ---


def test_progress_lines_at_one_value_each_show_around_the_next():
    # Chapter 09, cell 62: from step 400 on five of six rates are 100 %, and only the last
    # line drawn showed. Each line is wider, and its markers larger, than those drawn after it.
    steps = [0, 100, 400, 2000]
    series = {name: [0.5, 0.9, 1.0, 1.0] for name in ("a head per word", "he", "it", "she", "they")}
    series["one head"] = [0.4, 0.9, 0.8, 0.85]
    fig = figures.progress_curves_figure(steps, series, y_title="%")
    widths = [t.line.width for t in fig.data]
    sizes = [t.marker.size for t in fig.data]
    assert all(a > b for a, b in zip(widths, widths[1:])), widths
    assert all(a >= b + 2.5 for a, b in zip(sizes, sizes[1:])), sizes  # a rim of 1.25 px or more
    assert widths[-1] == 2 and sizes[-1] == 6  # the last keeps the former stroke
    # values as measured, and said on hover: no offset
    assert [list(t.y) for t in fig.data][:5] == [[50.0, 90.0, 100.0, 100.0]] * 5
    assert "%{y:.1f}%" in fig.data[0].hovertemplate
    assert len({t.line.dash for t in fig.data}) == 6  # and each its own dash, as before


# --- 4. each step's loss reads on both pages ---


def test_the_each_step_line_reads_on_the_light_and_the_dark_page():
    # lab-09-dark-c28.png: a dark slate thread on #111111 (2.3:1), pale blue on white (1.4:1).
    light = _contrast_over(themes.LIGHT.faint, themes.LIGHT.template.layout.paper_bgcolor)
    dark = _contrast_over(themes.DARK.faint, themes.DARK.template.layout.paper_bgcolor)
    assert light >= 2.0 and dark >= 2.6, (light, dark)
    # still behind the running mean on both (drawn in the theme's bold colour)
    for theme in (themes.LIGHT, themes.DARK):
        paper = theme.template.layout.paper_bgcolor
        assert _contrast_over(theme.faint, paper) < _contrast_over(theme.bold, paper)
    fig = figures.loss_curve_figure([1, 2], [1.0, 0.5], smoothed=[1.0, 0.75])
    assert fig.data[0].name == "each step" and fig.data[0].line.color == themes.LIGHT.faint
    assert themes.theme_swap()["colours"][fig.data[0].line.color] == themes.DARK.faint


# --- 5. smaller: a gap before the cells, a colour bar that says what it measures ---


def test_heatmap_row_labels_stand_off_from_the_cells_with_room_in_the_margin():
    # deck-09-26.png, zoom-06-dark-19-weights.png: "he" and "i" flush against the first cell.
    labels = ["he", "it", "she", "they"]
    fig = figures.matrix_heatmap(torch.rand(4, 3), labels, list("abc"), y_title="word")
    gap = fig.layout.yaxis.ticklabelstandoff
    assert gap is not None and gap >= 4
    # the margin still holds the widest label, the gap and the axis title: 14 + 4 × 7.5 + 26 before
    assert fig.layout.margin.l >= 14 + gap + 4 * 7.5 + 26


def test_the_story_explorers_colour_bar_says_it_shows_attention_weights():
    (heat,) = _story_explorer().figures["attention"].data
    assert heat.showscale is True and heat.colorbar.title.text == "weight"
    assert "weight: %{z" in heat.hovertemplate
    # a heatmap that does not name its values keeps a bare bar, as before
    (plain,) = figures.matrix_heatmap(torch.rand(3, 30), show_text=False).data
    assert plain.showscale is True and plain.colorbar.title.text is None


def test_an_exported_explorers_tables_are_left_aligned_as_in_jupyterlab():
    # html-06-light-c33.png: the batch's tokens right-aligned (the page's rendered-HTML style for
    # td), where the lab shows them in left-aligned columns (lab-06-light-c33-end.png).

    css = (STATIC / "course.css").read_text(encoding="utf-8")
    rules = re.findall(r"([^{}]+)\{([^{}]*)\}", re.sub(r"/\*.*?\*/", "", css, flags=re.S))
    left = [sel.strip() for sel, body in rules if re.search(r"text-align:\s*left", body)]
    snapshot = [sel for sel in left if ".tc-snapshot" in sel and "td" in sel and "th" in sel]
    assert snapshot, left
    assert all(name in snapshot[0] for name in (".tc-batch", ".tc-tokens", ".tc-shapes"))
    # more specific than the page's ":not(.jp-RenderedMarkdown).jp-RenderedHTMLCommon td" (two
    # classes and an element), which comes after course.css on the page: a tie loses
    assert re.search(r"\btable:is\(", snapshot[0]), snapshot[0]
    # and the export puts course.css on its page
    from transformer_course.export import page

    assert "course.css" in Path(page.__file__).read_text(encoding="utf-8")
