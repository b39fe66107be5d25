"""Chapter 07's depth charts (``figures.depth_figure``), as a visual check of the course found them.

1. They counted layers from 1 ("layer (1 = closest to the input)", block 1 … 30) while
   chapter 07's explorer, the rest of the course and Python (``model.encoder.layers[0]``)
   count from 0.
2. Their legend, a row under the plot at y=-0.2 of it, sat on the x axis's title in a phone's
   window (400 px), where the five names took five rows. So did chapter 04's saturation chart
   and chapter 05's attention cost (y=-0.25: up to 24 px into "d_k (log scale)" on a slide,
   17 px into "sequence length L" at 354 px).
3. On the 30-block gradient chart, whose log axis spans 20 powers of ten, the four designs
   that keep their gradient fell into a band of about 20 px: they could not be told apart.

Drawn by plotly.js in the run's one Chromium (``browser``, tests/conftest.py), at a page's
13 px text and a slide's 16, with plotly's automargin off (the live view) and on (the
export and the deck).
"""

from __future__ import annotations

import itertools
import json
import os
import re
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch
from transformer_course import figures
from transformer_course.figures.base import unchecked
from transformer_course.softmax import saturation_experiment

CHAPTERS = Path(os.environ.get("TC_CHAPTERS_DIR", Path(__file__).resolve().parents[1] / "chapters"))
CHAPTER_07 = CHAPTERS / "07_full_transformer.py"
SECTION = re.compile(r"## Why the residual matters in a deep stack(.*?)# ## The encoder layer", re.S)

# Chapter 07's five designs, the longest names a depth chart shows.
DESIGNS = ["plain (no residual)", "plain, He init", "residual, no norm", "post-norm (paper)", "pre-norm"]
PAGE_TEXT_PX, SLIDE_TEXT_PX = 13, 16  # themes.FONT; figure_view.js: DECK_FONT
# A chart in an exported page 400 px wide is 354 px wide; the others up to a 1280 px window.
WIDTHS = [354, 400, 560, 800, 1280]
# Two lines told apart: on average at least this far apart (a marker is 5 px across).
APART_PX = 8


def deep_stack_section() -> str:
    found = SECTION.search(CHAPTER_07.read_text(encoding="utf-8"))
    assert found, "chapter 07 no longer has its section 'Why the residual matters in a deep stack'"
    return found.group(1)


# --- 1. counted from 0 ---


def test_blocks_are_numbered_from_0_as_python_counts_them():
    fig = figures.depth_figure({"a": torch.tensor([1.0, 2.0, 3.0]), "b": torch.ones(3)})
    assert [list(t.x) for t in fig.data] == [[0, 1, 2], [0, 1, 2]]
    assert "0 = closest to the input" in fig.layout.xaxis.title.text


def test_hover_names_the_x_as_the_axis_title_does():
    values = {"a": torch.tensor([1.0, 2.0])}
    block = figures.depth_figure(values).data[0].hovertemplate
    step = figures.depth_figure(values, x_title="training step").data[0].hovertemplate
    plain = figures.depth_figure(values, x_title="").data[0].hovertemplate
    assert "block %{x}:" in block and "layer" not in block
    assert "training step %{x}:" in step and "layer" not in step  # chapter 08's loss per step
    assert plain.startswith("a<br>%{x}:")


def test_chapter_07_names_blocks_0_to_29_like_its_lists():
    section = deep_stack_section()
    named = {int(n) for n in re.findall(r"\bblock (\d+)", section)}
    assert named and min(named) == 0 and max(named) == 29, f"blocks named: {sorted(named)} (30: 0 … 29)"
    assert "block {depth - 1}" in section, "the printed last block no longer comes from the depth"


# --- 2. the legend and the x axis's title never overlap ---


@pytest.fixture(scope="module")
def page(browser):
    """A tab of the run's one Chromium with plotly.js loaded."""
    from plotly.offline import get_plotlyjs

    tab = browser.new_page(viewport=dict(width=1400, height=900))
    tab.set_content(
        f"<html><body style='margin:0'><div id=f></div><script>{get_plotlyjs()}</script></body></html>"
    )
    yield tab
    tab.close()


# The boxes on screen of the legend, the x axis's title and tick labels, the figure's title
# and the plot; whether plotly cut the legend short (it scrolls); and each line's points in
# px from the top.
DRAW_JS = """async ([spec, width, font, auto]) => {
  const div = document.getElementById('f');
  spec.layout.width = width;
  spec.layout.font = {...(spec.layout.font || {}), size: font};
  if (auto) for (const k of ['xaxis', 'yaxis']) spec.layout[k] = {...spec.layout[k], automargin: true};
  await Plotly.newPlot(div, spec.data, spec.layout, {staticPlot: true});
  const box = sel => {
    const e = div.querySelector(sel);
    if (!e) return null;
    const r = e.getBoundingClientRect();
    return {left: r.left, top: r.top, right: r.right, bottom: r.bottom};
  };
  const s = div._fullLayout._size, y = div._fullLayout.yaxis, shown = div._fullLayout.legend;
  return {legend: box('.legend'), legendScrolls: !!shown && shown._effHeight < shown._height,
          xtitle: box('text.xtitle'), xticks: box('.xaxislayer-above'),
          title: box('.gtitle'), figure: box('.main-svg'),
          plot: {left: s.l, top: s.t, right: s.l + s.w, bottom: s.t + s.h},
          lines: div._fullData.map(t => t.y.map(v => y.c2p(v) + s.t)),
          xlabels: [...div.querySelectorAll('.xtick text')].map(t => t.textContent.trim()).filter(Boolean)};
}"""


def draw(page, fig, width: int, font: int, auto: bool) -> dict:
    spec = json.loads(fig.to_json())
    return page.evaluate(DRAW_JS, [spec, width, font, auto])


def overlap(a: dict | None, b: dict | None) -> float:
    """How far two boxes reach into each other vertically, in px (0 or less: apart)."""
    across = a and b and a["left"] < b["right"] and b["left"] < a["right"]
    return min(a["bottom"], b["bottom"]) - max(a["top"], b["top"]) if across else 0.0


def chapter_like(n: int = 30) -> dict[str, torch.Tensor]:
    """Five lines as chapter 07's gradients: one falling over 17 powers of ten, four near 1."""
    depth = torch.arange(n, dtype=torch.float64)
    sizes = {"plain (no residual)": 10.0 ** (-20 + 17 * depth / (n - 1))}
    sizes |= {name: torch.full((n,), level) for name, level in zip(DESIGNS[1:], (0.5, 1.5, 0.08, 0.45))}
    return sizes


@pytest.mark.parametrize("width", [400, 1280])
def test_the_x_axis_labels_no_block_past_the_last(page, width):
    """30 blocks are 0 … 29: plotly's range, padded for the markers, labelled a block 30."""
    got = draw(page, figures.depth_figure(chapter_like()), width, PAGE_TEXT_PX, auto=True)
    labels = [int(text) for text in got["xlabels"]]
    assert labels and min(labels) == 0 and max(labels) <= 29, f"{width} px: x labels {labels}"


def test_the_overlap_check_can_fail():
    a = {"left": 0, "right": 10, "top": 0, "bottom": 10}
    assert overlap(a, {**a, "top": 8, "bottom": 20}) == 2
    assert overlap(a, {**a, "top": 12, "bottom": 20}) <= 0
    assert overlap(a, {"left": 20, "right": 30, "top": 0, "bottom": 10}) == 0


@pytest.mark.parametrize("auto", [False, True], ids=["live", "automargin"])
@pytest.mark.parametrize("font", [PAGE_TEXT_PX, SLIDE_TEXT_PX])
def test_the_legend_never_sits_on_the_x_axis_title(page, font, auto):
    fig = figures.depth_figure(chapter_like(), title="Gradient reaching each of 30 stacked blocks",
                               y_title="gradient norm (log scale)")  # fmt: skip
    problems = []
    for width in WIDTHS:
        got = draw(page, fig, width, font, auto)
        assert got["legend"] and got["xtitle"], f"{width} px: nothing drawn: {got}"
        for part in ("xtitle", "xticks", "title", "plot"):
            if overlap(got["legend"], got[part]) > 0:
                problems.append(
                    f"{width} px: the legend reaches {overlap(got['legend'], got[part]):.0f} px into {part}"
                )
        if (
            got["legend"]["bottom"] > got["figure"]["bottom"] + 1
            or got["legend"]["top"] < got["figure"]["top"]
        ):
            problems.append(
                f"{width} px: the legend runs past the figure: {got['legend']} in {got['figure']}"
            )
    assert not problems, f"{font} px text: " + "; ".join(problems)


# Chapter 05's measured lengths, with times and peak memory growing as a machine's would.
_LENGTHS = [32, 64, 128, 256, 512, 1024]
MEASURED_COST = SimpleNamespace(
    lengths=_LENGTHS,
    explicit_ms=[0.02 * (n / 32) ** 1.8 for n in _LENGTHS],
    fused_ms=[0.015 * (n / 32) ** 1.5 for n in _LENGTHS],
    explicit_bytes=[4096 * n * n for n in _LENGTHS],
    fused_bytes=[65536 * n for n in _LENGTHS],
)
OTHER_LEGENDS_BELOW = (
    "loss_comparison_figure",
    "gradient_distance_figure",
    "head_jobs_figure",
    "saturation_figure",
    "attention_cost_figure",
)
# A plot shorter than this, its legend and titles taken out, reads as a strip.
MIN_PLOT_PX = 120


def other_line_charts() -> dict:
    """The other charts whose legend sat at a fixed fraction of the plot below it (y=-0.15 to
    -0.25), under the x axis's title; now at the figure's foot (``FOOT_LEGEND``) where that met it."""
    losses = {name: [2.0 / (step + 1) for step in range(40)] for name in DESIGNS}
    tokens = {name: torch.logspace(0, -6, 12) for name in DESIGNS}
    return {
        "loss_comparison_figure": figures.loss_comparison_figure(losses, title="Training loss"),
        "gradient_distance_figure": figures.gradient_distance_figure(tokens),
        # Chapter 05's head jobs (y=-0.15 of the plot) and the attention cost, chapter 04's
        # saturation (both y=-0.25), as those chapters draw them.
        "head_jobs_figure": figures.head_jobs_figure(
            torch.tensor([[0.8, 0.05, 0.02, 0.1], [0.04, 0.7, 0.1, 0.12], [0.1, 0.1, 0.66, 0.05]]),
            [f"the {job} symbol" for job in ("previous", "next", "first")] + ["the position itself"],
            title="Mean weight on each target, held-out rows (positions 1 to 14)",
        ),
        "saturation_figure": figures.saturation_figure(
            saturation_experiment(length=16, rows=8),
            "entropy",
            title="Without scaling, rows collapse onto one key",
        ),
        "attention_cost_figure": figures.attention_cost_figure(
            MEASURED_COST, title="Attention cost on this machine (cpu)"
        ),
    }


@pytest.mark.parametrize("name", list(OTHER_LEGENDS_BELOW))
def test_the_other_legends_below_a_plot_never_sit_on_its_x_axis_title(page, name):
    fig = other_line_charts()[name]
    problems = []
    # The live view on a page (its own margins), the export (automargin) and the deck (both larger).
    drawn_as = [(PAGE_TEXT_PX, False), (PAGE_TEXT_PX, True), (SLIDE_TEXT_PX, True)]
    for width, (font, auto) in itertools.product(WIDTHS, drawn_as):
        got, where = draw(page, fig, width, font, auto=auto), f"{width} px, {font} px text, automargin {auto}"
        for part in ("xtitle", "xticks", "plot"):
            if overlap(got["legend"], got[part]) > 0:
                reach = overlap(got["legend"], got[part])
                problems.append(f"{where}: the legend reaches {reach:.0f} px into {part}")
        tall = got["plot"]["bottom"] - got["plot"]["top"]
        if tall < MIN_PLOT_PX:
            problems.append(f"{where}: the plot is only {tall:.0f} px tall")
    assert not problems, f"{name}: " + "; ".join(problems)


# --- 3. the four designs that keep their gradient, told apart ---


def test_a_hidden_line_keeps_the_others_styles_and_leaves_the_axis_to_them():
    values = chapter_like()
    everything = figures.depth_figure(values)
    close_up = figures.depth_figure(values, hidden=["plain (no residual)"])
    assert [t.visible for t in close_up.data] == ["legendonly"] + [None] * 4  # greyed in the legend
    style = [(t.name, t.line.dash) for t in everything.data]
    assert [(t.name, t.line.dash) for t in close_up.data] == style  # colours: the colorway's, in order
    ticks = list(close_up.layout.yaxis.tickvals)
    assert ticks and min(ticks) >= 0.01 and max(ticks) <= 10, f"ticks for the shown lines, got {ticks}"
    assert figures.depth_figure(values, hidden=()).to_plotly_json() == everything.to_plotly_json()
    with unchecked():  # as an explorer would build it: the same figure
        built = figures.depth_figure(values, hidden=["plain (no residual)"])
    assert json.loads(built.to_json()) == json.loads(close_up.to_json())


@pytest.mark.parametrize(
    "hidden, says",
    [
        ("pre-norm", "list of names"),
        (["pre-norm", "no such"], "no such"),
        ([["pre-norm"]], "name lines"),
        ([("a", [1])], "name lines"),
        (DESIGNS, "at least one"),
        (5, "list of names"),
    ],
    ids=["a str", "an unknown name", "a list", "an unhashable tuple", "all of them", "an int"],
)
def test_hidden_names_lines_it_can_hide(hidden, says):
    with pytest.raises(ValueError, match="hidden") as refused:
        figures.depth_figure(chapter_like(), hidden=hidden)
    assert says in str(refused.value)


@pytest.fixture(scope="module")
def drawn_by_chapter_07():
    """Every depth chart chapter 07's deep-stack section draws, built from the chapter's own
    code (run up to the encoder layer, as a learner runs it), in order."""
    source = CHAPTER_07.read_text(encoding="utf-8")
    charts = []

    def recorded(*args, **kwargs):
        charts.append(original(*args, **kwargs))
        return charts[-1]

    original = figures.depth_figure
    figures.depth_figure = recorded
    try:
        with torch.random.fork_rng():
            exec(compile(source[: source.index("# ## The encoder layer")], str(CHAPTER_07), "exec"), {})
    finally:
        figures.depth_figure = original
    return charts


def mean_gap_px(a: list[float], b: list[float]) -> float:
    return sum(abs(p - q) for p, q in zip(a, b, strict=True)) / len(a)


def test_the_gap_measure_can_fail():
    assert mean_gap_px([0.0, 0.0], [2.0, 6.0]) == 4.0 < APART_PX


@pytest.mark.parametrize("font", [PAGE_TEXT_PX, SLIDE_TEXT_PX])
def test_every_gradient_line_is_told_apart_from_the_others_in_some_chart(page, drawn_by_chapter_07, font):
    """Each design's gradient, on some chart of chapter 07 where it is on average at least
    ``APART_PX`` from every other line of that chart (at 1280 px)."""
    gradients = [fig for fig in drawn_by_chapter_07 if fig.layout.yaxis.type == "log"]
    assert gradients, "chapter 07 draws no gradient chart any more"
    designs = {trace.name for trace in gradients[0].data}
    assert len(designs) == 5, designs
    seen_apart, crowded = set(), []
    for fig in gradients:
        drawn = zip(fig.data, draw(page, fig, 1280, font, auto=True)["lines"], strict=True)
        lines = {trace.name: line for trace, line in drawn if trace.visible != "legendonly"}
        for name, line in lines.items():
            gaps = {other: mean_gap_px(line, lines[other]) for other in lines if other != name}
            if min(gaps.values(), default=APART_PX) >= APART_PX:
                seen_apart.add(name)
            else:
                crowded.append(f"{fig.layout.title.text!r}: {name} {min(gaps.values()):.1f} px from another")
    assert seen_apart == designs, f"never told apart: {sorted(designs - seen_apart)}; {crowded}"


def test_the_full_chart_alone_crowds_the_four(page):
    """The case at hand: on one axis over 20 powers of ten, the four near 1 lie within a few px."""
    got = draw(page, figures.depth_figure(chapter_like()), 1280, PAGE_TEXT_PX, auto=True)
    four = got["lines"][1:]
    assert min(mean_gap_px(a, b) for a, b in itertools.combinations(four, 2)) < APART_PX
