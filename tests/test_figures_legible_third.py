"""Third pass on legibility: what a reviewer met on the slides (dark, 1280 × 720, 16 px text).

1. Words under bars slanted at a fixed -30° or -40° where they had room upright (chapter
   08's and 09's pointer charts, the likeliest next tokens).
2. Chapter 09's live loss curve: "floor 0.462" squeezed against the right axis, under its line.
3. Chapter 05's grid of heads: "head 4" sat on the last row of "head 0".
4. The likeliest tokens' legend: the model's swatch took the first bar's colour, the chosen
   token's vermillion when that token was the likeliest.

Each is checked on the figure's JSON, and as plotly.js draws it in Chromium (skipped without it).
"""

import json

import pytest
import torch
from plotly.colors import hex_to_rgb
from transformer_course import figures
from transformer_course.figures import palette, themes
from transformer_course.figures.panels import head_of_grid

SLIDE_FONT = 16  # px: static/figure_view.js's DECK_FONT
LINE = 1.25  # a line of text is about 1.25 times its font size
SENTENCE = "the pizza came out of the oven and it tasted good".split()
STORY = (
    "<bos> squatch and lily were in the kitchen . lily made a pizza . the pizza came out of the "
    "oven and it was cheesy . squatch looked at lily and he roared . <eos>"
).split()
VOCAB = ["it", "oven", "she", "was", "and", "because", "they", "met", "pizza", "lily"]
PROBS = torch.tensor([0.5, 0.1, 0.08, 0.07, 0.06, 0.05, 0.05, 0.04, 0.03, 0.02])
TRUTH = torch.tensor([0.45, 0.12, 0.1, 0.08, 0.05, 0.05, 0.05, 0.04, 0.03, 0.03])


def pointer(words=SENTENCE):
    weights = torch.full((len(words),), 0.02)
    weights[1], weights[6] = 0.6, 0.2
    return figures.pointer_figure(weights / weights.sum(), words, referent=1, distractor=6, source=8)


def likeliest(truth=TRUTH):
    # chosen=0 is also the likeliest token: its bar comes first
    return figures.likeliest_tokens_figure(PROBS, VOCAB, chosen=0, true_probs=truth, top=6)


WORD_BARS = {
    "pointer_figure": pointer,
    "likeliest_tokens_figure": likeliest,
    "likeliest_tokens_figure alone": lambda: likeliest(None),
    "next_token_figure": lambda: figures.next_token_figure(PROBS, VOCAB, chosen=2),
}


# --- 1. words under bars upright where they fit ---


@pytest.mark.parametrize("name", WORD_BARS)
def test_words_under_bars_are_slanted_only_by_plotly_when_crowded(name):
    axis = WORD_BARS[name]().layout.xaxis
    assert axis.tickangle is None, (
        f"{name}: tickangle fixed at {axis.tickangle}, left to plotly ('auto') expected"
    )
    assert axis.autotickangles is None or axis.autotickangles[0] == 0, "upright must be plotly's first try"
    assert axis.automargin is not False, "a slant needs plotly's automargin for its room below"


# --- 2. the floor's label inside the plot ---


def loss_curve(log_y=False):
    steps = list(range(0, 2001, 10))
    losses = [0.462 + 6 * 0.99**s for s in steps]
    held_out = [(s, 0.47 + 6 * 0.99**s) for s in range(100, 2001, 100)]
    return figures.loss_curve_figure(
        steps, losses, smoothed=losses, total_steps=2000, floor=0.462, validation=held_out, log_y=log_y
    )


@pytest.mark.parametrize("log_y", [False, True])
def test_the_floors_label_sits_above_its_line_left_of_the_last_marker(log_y):
    fig = loss_curve(log_y)
    (label,) = fig.layout.annotations
    marker_radius = fig.data[-1].marker.size / 2  # the held-out markers, the last at the end
    assert label.text == "floor 0.462"
    assert label.xref == "x domain" and label.x == 1 and label.xanchor == "right"
    assert (label.xshift or 0) <= -(marker_radius + 4), "the label's right end must clear the last marker"
    assert label.yanchor == "bottom" and (label.yshift or 0) >= marker_radius, (
        "above the line, clear of markers"
    )
    assert label.y == pytest.approx(torch.tensor(0.462).log10().item() if log_y else 0.462)


# --- 3. room for a head's title between two rows of panels ---


def head_grid(words=SENTENCE, heads=8):
    weights = torch.softmax(
        torch.randn(heads, len(words), len(words), generator=torch.Generator().manual_seed(0)), -1
    )
    return figures.head_grid_figure(weights, words, title="8 untrained heads")


def row_gap_px(fig) -> float:
    """Pixels between the bottom of the first row of panels and the top of the second, at the
    figure's own height: from the y the heatmap's rows are drawn at (their edges, or plotly's
    0, 1, 2 … centres) and the second row's titles (placed at its top edge)."""
    trace, layout = fig.data[0], fig.layout
    rows = len(trace.z)
    edges = list(trace.y) if trace.y is not None else [i - 0.5 for i in range(rows + 1)]
    assert len(edges) == rows + 1, "the heatmap's y must be its rows' edges"
    per_unit = (layout.height - layout.margin.t - layout.margin.b) / (edges[-1] - edges[0])
    lq = layout.meta["rows"]
    first_bottom = layout.yaxis.tickvals[lq - 1] + 0.5
    second_top = min(a.y for a in layout.annotations if a.y > first_bottom)
    return (second_top - first_bottom) * per_unit


@pytest.mark.parametrize("words", [SENTENCE, SENTENCE[:4], STORY[:16]])
def test_two_rows_of_panels_leave_room_for_a_title_at_the_slides_font(words):
    fig = head_grid(words)
    gap = row_gap_px(fig)
    assert gap >= LINE * SLIDE_FONT + 4, f"{gap:.1f} px between rows of panels for a {SLIDE_FONT} px title"


def test_the_heads_drawn_are_the_ones_read_back_and_their_rows_keep_their_height():
    weights = torch.softmax(torch.randn(8, len(SENTENCE), len(SENTENCE)), -1)
    fig = figures.head_grid_figure(weights, SENTENCE)
    for head in range(8):
        assert torch.allclose(torch.tensor(head_of_grid(fig, head)).float(), weights[head])
    edges, layout = fig.data[0].y, fig.layout
    assert edges is not None, "two rows of 11 words: the gap between them must be widened"
    per_unit = (layout.height - layout.margin.t - layout.margin.b) / (edges[-1] - edges[0])
    assert per_unit >= 14, "a row of words keeps its 14 px"


# --- 4. the model's legend swatch in the model's colour ---


def legend_swatch(trace) -> str:
    """The colour plotly.js paints a bar trace's legend swatch: its marker's colour; for colours
    given bar by bar, the first bar's, or where the marker has a colour scale (and cmin, cmax),
    the scale's colour halfway between them (plotly.js, legend/style.js)."""
    marker = trace.marker
    if isinstance(marker.color, str):
        return marker.color
    if marker.colorscale is None or marker.cmin is None or marker.cmax is None:
        return marker.color[0]
    scale = [(float(at), colour) for at, colour in marker.colorscale]
    return next(colour for at, colour in scale if at >= 0.5)


def test_the_legend_helper_can_fail():
    plain = figures.bar_figure(torch.tensor([0.2, 0.8]), ["a", "b"]).data[0]
    plain.marker.color = [palette.CHOSEN_COLOUR, palette.LOSS_COLOUR]
    assert legend_swatch(plain) == palette.CHOSEN_COLOUR


def test_the_models_legend_entry_shows_the_models_bar_colour_not_the_chosen_one():
    fig = likeliest()
    bars = fig.data[0]
    assert bars.name == "model" and bars.showlegend is not False
    assert bars.marker.color[0] == palette.CHOSEN_COLOUR, "the test's chosen token must be the likeliest"
    assert legend_swatch(bars) == palette.LOSS_COLOUR
    assert bars.marker.showscale is not True, "no colour bar for the model's bars"


# --- as plotly.js draws them, in Chromium ---


@pytest.fixture(scope="module")
def page(browser):
    """A tab of the run's one Chromium (tests/conftest.py) with plotly.js loaded."""
    from plotly.offline import get_plotlyjs

    tab = browser.new_page(viewport=dict(width=1280, height=720))
    tab.set_content(
        f"<html><body style='margin:0'><div id=f></div><script>{get_plotlyjs()}</script></body></html>"
    )
    yield tab
    tab.close()


def draw(page, fig, width: int, dark: bool, script: str, height: int | None = None):
    """Draws ``fig`` ``width`` px wide in 16 px text (a slide) and returns ``script``'s answer,
    an async function of the plot's div."""
    spec = json.loads(fig.to_json())
    template = (themes.DARK if dark else themes.LIGHT).template.to_plotly_json()
    spec["layout"].update(template=template, width=width, font=dict(spec["layout"].get("font", {}), size=16))
    if height:
        spec["layout"]["height"] = height
    return page.evaluate(
        f"""async (spec) => {{
            const div = document.getElementById('f');
            await Plotly.newPlot(div, spec.data, spec.layout, {{staticPlot: true}});
            return await ({script})(div);
        }}""",
        spec,
    )


TICKS = """async (div) => [...div.querySelectorAll('.xtick text')].map((t) => {
    const r = t.getBoundingClientRect();
    return {text: t.textContent, rotated: /rotate\\((?!0[,)])/.test(t.getAttribute('transform') || ''),
            left: r.left, right: r.right};
})"""


@pytest.mark.parametrize("dark", [True, False])
def test_on_a_slide_eleven_words_stand_upright_and_apart(page, dark):
    """Chapter 08's pointer chart on a 1280 px slide: room for every word upright."""
    for fig in (pointer(), likeliest()):
        ticks = draw(page, fig, 1200, dark, TICKS)
        assert ticks and not any(t["rotated"] for t in ticks), [t["text"] for t in ticks if t["rotated"]]
        ticks.sort(key=lambda t: t["left"])
        assert all(b["left"] - a["right"] >= 2 for a, b in zip(ticks, ticks[1:]))


def test_in_a_narrow_window_crowded_words_slant(page):
    """31 words in 400 px cannot stand upright: plotly slants them (and makes room below)."""
    ticks = draw(page, pointer(STORY), 400, True, TICKS)
    assert ticks and all(t["rotated"] for t in ticks)


FLOOR = """async (div) => {
    const box = (el) => el.getBoundingClientRect();
    const label = box(div.querySelector('.annotation-text-g'));
    const line = box(div.querySelector('.shapelayer path'));
    const points = [...div.querySelectorAll('.scatterlayer .trace:last-child .point')].map(box);
    const x = div._fullLayout.xaxis;
    return {label: {left: label.left, right: label.right, top: label.top, bottom: label.bottom},
            line: line.top, plot: box(div).left + x._offset + x._length,
            last: points.map((p) => ({left: p.left, top: p.top, bottom: p.bottom}))};
}"""


@pytest.mark.parametrize("width", [1180, 400])
def test_the_floors_label_touches_neither_the_axis_nor_the_last_marker(page, width):
    drawn = draw(page, loss_curve(), width, True, FLOOR)
    label, last = drawn["label"], drawn["last"][-1]
    assert label["right"] <= last["left"] - 2, "the label runs into the last held-out marker"
    assert label["right"] <= drawn["plot"] - 6
    assert label["bottom"] <= drawn["line"], "the label must sit above the floor's line"
    near = [p for p in drawn["last"] if p["left"] < label["right"] and p["left"] > label["left"] - 8]
    assert all(label["bottom"] <= p["top"] + 1 for p in near), "the label covers a held-out marker"


GRID = """async (div) => {
    const y = div._fullLayout.yaxis, rows = div._fullLayout.meta.rows;
    const bottom = y._offset + y.l2p(y.tickvals[rows - 1] + 0.5);
    const titles = [...div.querySelectorAll('.annotation-text-g')].map((t) => t.getBoundingClientRect());
    return {bottom, tops: titles.map((t) => t.top).filter((top) => top > bottom - 40)};
}"""


@pytest.mark.parametrize("dark", [True, False])
def test_the_second_rows_titles_clear_the_first_rows_panels_on_a_slide(page, dark):
    fig = head_grid()
    for annotation in fig.layout.annotations:  # at the slide's font, not the grid's 13 px
        annotation.font.size = SLIDE_FONT
    squeezed = int(fig.layout.height * 0.85)  # a slide takes a little off (figure_view.js)
    drawn = draw(page, fig, 1100, dark, GRID, height=squeezed)
    assert len(drawn["tops"]) == 4
    assert min(drawn["tops"]) >= drawn["bottom"] + 1, drawn


def rgb(colour: str) -> str:
    return "rgb({}, {}, {})".format(*hex_to_rgb(colour)) if colour.startswith("#") else colour


@pytest.mark.parametrize("dark", [True, False])
def test_the_drawn_legend_swatch_is_the_models_colour(page, dark):
    swatch = draw(
        page,
        likeliest(),
        600,
        dark,
        "async (div) => div.querySelector('.legend .traces .legendpoints path').style.fill",
    )
    assert swatch.replace(" ", "") == rgb(palette.LOSS_COLOUR).replace(" ", "")
