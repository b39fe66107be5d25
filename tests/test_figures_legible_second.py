"""Bars' values and five-line charts stay legible on a slide (1280 × 720, dark and light).

Two things a reviewer met on the slides: values printed above bars that plotly shrank to
~11 px (a 31-bar pointer chart) or that ran together ("0.010.010.01", the StoryExplorer's
likeliest next tokens, whose legend also covered the top bar's value); and five-line charts
whose lines took two oranges and two blues, hard to tell apart on the dark page.
"""

import itertools
import json

import numpy as np
import pytest
import torch
from plotly.colors import hex_to_rgb, unlabel_rgb
from transformer_course import figures
from transformer_course.figures import palette, themes

TOKENS = ["<bos>", "squatch", "and", "lily", "were", "in", "the", "kitchen", ".", "lily", "made"]
VOCAB = ["it", "oven", "she", "was", "and", "because", "they", "met", "pizza", "lily"]
PROBS = torch.tensor([0.93, 0.01, 0.01, 0.01, 0.01, 0.012, 0.009, 0.008, 0.002, 0.001])
TRUTH = torch.tensor([0.9, 0.02, 0.01, 0.01, 0.01, 0.01, 0.01, 0.01, 0.01, 0.01])


def pointer():
    weights = torch.zeros(len(TOKENS))
    weights[[3, 9, 4]] = torch.tensor([0.69, 0.30, 0.01])
    return figures.pointer_figure(weights, TOKENS, referent=[3, 9], source=10)


BAR_FIGURES = {
    "pointer_figure": pointer,
    "next_token_figure": lambda: figures.next_token_figure(PROBS, VOCAB, chosen=2),
    "likeliest_tokens_figure with the stories' own": lambda: figures.likeliest_tokens_figure(
        PROBS, VOCAB, chosen=0, true_probs=TRUTH, top=8
    ),
    "likeliest_tokens_figure alone": lambda: figures.likeliest_tokens_figure(PROBS, VOCAB, chosen=0, top=8),
}
# The other figures that print a value on each bar.
OTHER_BARS = {
    "bar_figure": lambda: figures.bar_figure(torch.rand(len(TOKENS)), TOKENS),
    "query_row_figure": lambda: figures.query_row_figure(torch.randn(len(TOKENS)), TOKENS, "it"),
    "entropy_figure": lambda: figures.entropy_figure(torch.rand(len(TOKENS)), TOKENS, len(TOKENS)),
    "head_jobs_figure": lambda: figures.head_jobs_figure(torch.rand(8, 3), ["self", "previous", "noun"]),
}


# --- 1. values printed on bars: legible or absent ---


@pytest.mark.parametrize("name", sorted(BAR_FIGURES | OTHER_BARS))
def test_values_too_narrow_for_12px_are_hidden_not_shrunk(name):
    fig = (BAR_FIGURES | OTHER_BARS)[name]()
    assert fig.layout.uniformtext.mode == "hide", name
    assert fig.layout.uniformtext.minsize >= 12, name


@pytest.mark.parametrize("name", sorted(BAR_FIGURES))
def test_every_value_is_written_by_a_bar_fitted_to_its_width(name):
    """Free text (a scatter in mode "text") is neither fitted to a bar nor hidden by
    uniformtext: a row of it ran together on a narrow slide."""
    fig = BAR_FIGURES[name]()
    written = [t for t in fig.data if t.text is not None and any(t.text)]
    assert written, f"{name} prints no value at all"
    for trace in written:
        assert trace.type == "bar", f"{name}: a {trace.type} trace writes values"
        assert trace.textposition == "outside" and trace.cliponaxis is False
        assert trace.constraintext in (None, "both", "outside"), "values may overflow the bar"
        assert trace.width is None or trace.width <= 0.8  # a fifth of a slot between two values


def test_the_likeliest_tokens_keep_their_numbers():
    fig = BAR_FIGURES["likeliest_tokens_figure with the stories' own"]()
    bars, marks, values = fig.data
    shown = torch.maximum(PROBS, TRUTH).topk(8).indices
    assert list(bars.y) == pytest.approx(PROBS[shown].tolist())
    assert list(marks.y) == pytest.approx(TRUTH[shown].tolist())
    # the unseen bar that writes the values reaches just above the bar or the mark
    assert list(values.y) == pytest.approx((torch.maximum(PROBS, TRUTH)[shown] + 0.03).tolist())
    assert list(values.text) == [f"{v:.2f}" if v >= 0.005 else "" for v in PROBS[shown].tolist()]
    assert values.marker.color == palette.TRANSPARENT and values.hoverinfo == "skip"
    assert fig.layout.barmode == "overlay"  # over the model's bar, not beside it


def test_the_legend_covers_no_bar():
    """Inside the plot, top right, the legend covered the value of the tallest bar there."""
    fig = BAR_FIGURES["likeliest_tokens_figure with the stories' own"]()
    legend = fig.layout.legend
    # Under the title, anchored to the figure (round 51: one row across, as head_legend places
    # it): plotly sets the rows it wraps onto aside above the plot, so it covers no bar.
    under_title = 1 - figures.base.TITLE_ROOM / fig.layout.height
    assert (legend.yref, legend.y, legend.yanchor) == ("container", under_title, "top"), (
        "the legend must sit above the plot"
    )
    assert fig.layout.title.yref == "container"  # the title keeps to the top, over the legend


def test_the_stories_own_mark_stands_out_from_the_chosen_bar():
    """Left to the colorway, the mark took its second colour, which is the chosen bar's."""
    fig = BAR_FIGURES["likeliest_tokens_figure with the stories' own"]()
    bars, marks, _ = fig.data
    assert marks.marker.color == themes.theme().ink == marks.marker.line.color
    assert marks.marker.color not in set(bars.marker.color)


# --- 2. lines told apart by more than a colour ---


def srgb(colour: str) -> np.ndarray:
    """ "#RRGGBB", "rgb(r, g, b)" or "white" → r, g, b in [0, 1]."""
    if colour == "white":
        return np.ones(3)
    rgb = hex_to_rgb(colour) if colour.startswith("#") else unlabel_rgb(colour)
    return np.asarray(rgb, dtype=float) / 255


def linear(colour: str) -> np.ndarray:
    c = srgb(colour)
    return np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)


def luminance(colour: str) -> float:
    return float(np.dot([0.2126, 0.7152, 0.0722], linear(colour)))


def contrast(a: str, b: str) -> float:
    low, high = sorted((luminance(a), luminance(b)))
    return (high + 0.05) / (low + 0.05)


def lab(colour: str) -> np.ndarray:
    xyz = np.array([[0.4124, 0.3576, 0.1805], [0.2126, 0.7152, 0.0722], [0.0193, 0.1192, 0.9505]]) @ linear(
        colour
    )
    xyz = xyz / np.array([0.95047, 1.0, 1.08883])
    f = np.where(xyz > (6 / 29) ** 3, np.cbrt(xyz), xyz / (3 * (6 / 29) ** 2) + 4 / 29)
    return np.array([116 * f[1] - 16, 500 * (f[0] - f[1]), 200 * (f[1] - f[2])])


def delta_e(a: str, b: str) -> float:
    return float(np.linalg.norm(lab(a) - lab(b)))


def test_the_colour_measures_can_fail():
    # the two blues and the two oranges the reviewer could not tell apart
    assert delta_e("#0072B2", "#56B4E9") < 30 and delta_e("#E69F00", "#D55E00") < 35
    assert delta_e("#0072B2", "#D55E00") > 100
    assert contrast("#000000", "white") == pytest.approx(21) and contrast("#E69F00", "white") < 3


FIRST_FIVE = palette.COLORWAY[:5]
# Okabe–Ito's own colours are 26 (blue, sky blue) and 33 (orange, vermillion) apart, and
# the pair the five keep closest, reddish purple and the grey, 40.
APART = 38


@pytest.mark.parametrize("a, b", list(itertools.combinations(FIRST_FIVE, 2)))
def test_the_first_five_line_colours_are_far_apart(a, b):
    assert delta_e(a, b) >= APART, f"{a} and {b} are {delta_e(a, b):.0f} apart in CIELAB"


@pytest.mark.parametrize("theme", [themes.LIGHT, themes.DARK], ids=lambda t: t.name)
def test_the_first_five_line_colours_stand_out_from_the_plot(theme):
    layout = theme.template.layout
    assert list(layout.colorway[:5]) == list(FIRST_FIVE)  # the theme draws lines in these
    for page in {layout.plot_bgcolor, layout.paper_bgcolor}:
        for colour in FIRST_FIVE:
            assert contrast(colour, page) >= 3, f"{colour} on {page}: {contrast(colour, page):.2f}:1"


def _steps(n):
    return list(range(1, n + 1))


MULTI_LINE = {
    "depth_figure": lambda n: figures.depth_figure({f"v{k}": torch.rand(6) + 0.1 for k in range(n)}),
    "loss_comparison_figure": lambda n: figures.loss_comparison_figure(
        {f"v{k}": [2.0, 1.0, 0.5 / (k + 1)] for k in range(n)}
    ),
    "gradient_distance_figure": lambda n: figures.gradient_distance_figure(
        {f"v{k}": torch.rand(5) + 0.1 for k in range(n)}
    ),
    "progress_curves_figure": lambda n: figures.progress_curves_figure(
        _steps(3), {f"head {k}": [0.1, 0.5, 0.9] for k in range(n)}
    ),
    "waves_figure": lambda n: figures.waves_figure(torch.rand(8, 16) * 2 - 1, list(range(n))),
}


@pytest.mark.parametrize("name", sorted(MULTI_LINE))
@pytest.mark.parametrize("n", [4, 5, 8])
def test_four_lines_or_more_each_take_a_dash_of_their_own(name, n):
    fig = MULTI_LINE[name](n)
    assert len(fig.data) == n
    dashes = [t.line.dash for t in fig.data]
    assert dashes[0] in (None, "solid")
    styles = {(palette.COLORWAY[k % len(palette.COLORWAY)], dashes[k]) for k in range(n)}
    assert len(styles) == n, f"{name}: two of {n} lines share a colour and a dash: {dashes}"
    assert len(set(dashes[:5])) == min(n, 5), f"{name}: dashes {dashes}"


@pytest.mark.parametrize("name", sorted(MULTI_LINE))
def test_up_to_three_lines_stay_solid(name):
    fig = MULTI_LINE[name](3)
    assert [t.line.dash for t in fig.data] == [None] * 3


def test_the_dashes_keep_a_lines_own_style():
    fig = MULTI_LINE["loss_comparison_figure"](4)
    assert [t.line.width for t in fig.data] == [2] * 4  # its width stays beside the dash
    assert [list(t.y) for t in fig.data][3] == pytest.approx([2.0, 1.0, 0.125])


# --- 3. as a reader sees it: drawn by plotly.js in Chromium at a slide's size ---


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


def drawn_values(page, fig, width: int) -> list[dict]:
    """Each value plotly.js shows above a bar of ``fig`` drawn ``width`` px wide with a slide's
    16 px text, in the dark theme: its text, its box on screen and its drawn height in px."""
    spec = json.loads(fig.to_json())
    spec["layout"].update(template=themes.DARK.template.to_plotly_json(), width=width)
    spec["layout"]["font"] = dict(spec["layout"].get("font", {}), size=16)
    return page.evaluate(
        """async (spec) => {
            const div = document.getElementById('f');
            await Plotly.newPlot(div, spec.data, spec.layout, {staticPlot: true});
            // bars' values and free text; a value hidden by uniformtext is drawn 0 px high
            const boxes = [...div.querySelectorAll('.bartext, .textpoint text')]
                .map(t => [t.textContent, t.getBoundingClientRect()])
                .filter(([text, r]) => text && r.height > 0);
            return boxes.map(([text, r]) => ({text, left: r.left, right: r.right, top: r.top,
                                              bottom: r.bottom, height: r.height}));
        }""",
        json.loads(json.dumps(spec)),
    )


def assert_apart(shown: list[dict]) -> None:
    """No two values on one line closer than 3 px."""
    for a, b in itertools.pairwise(sorted(shown, key=lambda v: v["left"])):
        beside = a["bottom"] > b["top"] and b["bottom"] > a["top"]
        assert not beside or b["left"] - a["right"] >= 3, f"{a['text']} runs into {b['text']}"


@pytest.mark.parametrize("width", [300, 360, 600])
def test_on_a_slide_the_next_token_values_never_run_together(page, width):
    """The StoryExplorer's chart is half a slide wide (about 360 px): a row of 0.01 ran
    together there. Shown values are at least 12 px and a few px apart, or not shown."""
    fig = BAR_FIGURES["likeliest_tokens_figure with the stories' own"]()
    shown = drawn_values(page, fig, width)
    for value in shown:
        assert value["height"] >= 12, f"{value['text']} drawn {value['height']:.1f} px high"
    assert_apart(shown)
    if width >= 360:
        listed = torch.maximum(PROBS, TRUTH).topk(8).indices  # the tokens the chart shows
        assert len(shown) == int((PROBS[listed] >= 0.005).sum()), "room for every value, yet some hidden"


def test_a_31_bar_pointer_chart_shows_its_values_at_12px_or_hides_them(page):
    words = [f"w{k}" for k in range(31)]
    weights = torch.zeros(31)
    weights[[9, 12, 4]] = torch.tensor([0.69, 0.30, 0.01])
    for width in (500, 1110):
        for value in drawn_values(page, figures.pointer_figure(weights, words), width):
            assert value["height"] >= 12, f"{value['text']} drawn {value['height']:.1f} px high"


@pytest.mark.parametrize("width", [550, 1110])
def test_a_group_of_bars_keeps_its_values_apart(page, width):
    """Chapter 06's bars of where each head looks: a group's bars touched, and their values too."""
    shares = torch.tensor([[0.66, 0.68, 0.26], [0.70, 0.30, 0.95], [0.27, 0.05, 0.51], [0.57, 0.14, 0.20]])
    shown = drawn_values(page, figures.head_jobs_figure(shares, ["self", "previous", "noun"]), width)
    assert all(v["height"] >= 12 for v in shown)
    assert_apart(shown)
