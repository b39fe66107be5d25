"""A grid of heads keeps the same words under every head when its labels are thinned.

A head grid (figures.head_grid_figure: chapter 05's explorer, chapter 08's trained encoder and
cross-attention) is drawn as one heatmap on one pair of axes, the heads' words one panel after
another. In a phone's window (390 px) its words are thinned to every k-th, and counted over the
whole axis: chapter 08's second head showed the odd words ("pizza out the and tasted") where the
first showed the even ones ("the came of oven it good"), as if its columns were other words.
Now each panel keeps the same words, counted from its first, in the offline export
(static/export_theme.js) and in JupyterLab's FigureView (static/figure_view.js), and no two
labels touch where one panel meets the next.

Chapter 07's table of shapes kept each shape on one line only in its cell's style: JupyterLab's
rendered HTML sets code to pre-wrap, which won, so at 390 px "(1, 4, 7, 7)" broke after its
commas, a number a line. Now every shape reads on one line.

Words under bars thinned in a phone's window were counted from the first bar: chapter 09's
"attention from he" lost the word under its one tall bar ("squatch", 0.94) and kept the words of
bars too low to see. Now the count starts from the tallest bar, whose word stays.
"""

from __future__ import annotations

import nbformat
import pytest
from transformer_course import export

from .test_export_fifth import reader, settle  # noqa: F401 (reader: a fixture)
from .test_heatmap_labels import HEATMAPS_JS, drawn_in_lab, lab_page  # noqa: F401 (a fixture)

pytestmark = [pytest.mark.browser, pytest.mark.timeout(300)]

v4 = nbformat.v4
WORDS = "the pizza came out of the oven and it tasted good"
GRID = f"""import torch
from transformer_course import figures

words = "{WORDS}".split()
seeded = torch.Generator().manual_seed(0)
weights = torch.softmax(torch.randn(HEADS, len(words), len(words), generator=seeded), -1)
figures.head_grid_figure(weights, words, marks={{1: "predicate"}}, title="TITLE")"""
# Chapter 07's explorer, with its table of shapes.
MODEL = """import torch
from transformer_course import widgets
from transformer_course.model import Transformer, TransformerConfig
from transformer_course.tokenizer import course_vocab

vocab = course_vocab()
torch.manual_seed(0)
config = TransformerConfig(vocab_size=len(vocab), d_model=32, num_heads=4, num_encoder_layers=2,
                           num_decoder_layers=2, d_ff=64, max_len=64)
widgets.ModelExplorer(Transformer(config), vocab, source="the pizza came out of the oven",
                      target="it tasted very good")"""
# As chapter 09's pointer chart: 36 words, nearly all the weight on the second one.
STORY = (
    "<bos> squatch and lily were in the kitchen . lily made a pizza . the pizza came out of the oven "
    "and it was cheesy . squatch looked at lily and he roared . <eos>"
)
POINTER = f"""import torch
from transformer_course import figures

words = "{STORY}".split()
row = torch.full((len(words),), 0.002)
row[1] = 0.94
figures.bar_figure(row, words, title="Attention from one word", y_title="attention weight")"""
# Per bar chart: where its tallest bar stands, the positions labelled, and how many words it has.
BARS_JS = """() => [...document.querySelectorAll('.js-plotly-plot')]
  .filter(div => (div._fullData || []).some(t => t.type === 'bar')).map(div => {
  const bar = div._fullData.find(t => t.type === 'bar'), y = [...bar.y];
  const axis = div._fullLayout.xaxis, own = (div._tcTicks || {}).xaxis || {vals: axis.tickvals};
  return {tallest: +bar.x[y.indexOf(Math.max(...y))], labelled: [...axis.tickvals].map(Number),
          words: own.vals.length};
})"""
# Each shape in a table of shapes: its text and how many lines it takes.
SHAPES_JS = """() => [...document.querySelectorAll('table.tc-shapes td code')].map(c => {
  const line = parseFloat(getComputedStyle(c).lineHeight) || 1.3 * parseFloat(getComputedStyle(c).fontSize);
  return {text: c.textContent, lines: Math.round(c.getBoundingClientRect().height / line)};
})"""
TITLES = {2: "Two heads, as chapter 08 trains them", 4: "Four heads in a row"}

# Per head grid: each panel's shown column labels, as positions inside the panel and words.
GRID_JS = """(root) => [...(root || document).querySelectorAll('.js-plotly-plot')]
  .filter(div => ((div.layout || {}).meta || {}).tiles).map(div => {
  const meta = div.layout.meta, axis = div._fullLayout.xaxis;
  const shown = (axis.tickvals || []).map((v, i) => [v, (axis.ticktext || [])[i]]);
  const panels = [...new Set(meta.tiles.map(t => t[2]))].sort((a, b) => a - b).map(left =>
    shown.filter(([v]) => v >= left && v < left + meta.columns).map(([v, t]) => [v - left, t]));
  return {title: (div.querySelector('.gtitle') || {}).textContent || '', columns: meta.columns, panels};
})"""


def assert_same_words_under_every_head(grids: list[dict], where: str) -> None:
    words = WORDS.split()
    assert grids, f"{where}: no head grid on the page"
    for grid in grids:
        panels = [[at for at, _ in panel] for panel in grid["panels"]]
        assert any(len(p) < grid["columns"] for p in panels), f"{where}: the case at hand, thinned: {grid}"
        for panel in grid["panels"]:
            assert all(words[at] == text for at, text in panel), f"{where}: a word off its column: {grid}"
        # The last panel may keep one more at its end (no panel after it to make way for).
        first, last = set(panels[0]), set(panels[-1])
        assert all(set(p) == first for p in panels[:-1]) and first <= last, (
            f"{where}, {grid['title']!r}: the heads show different words: {grid['panels']}"
        )


@pytest.fixture(scope="module")
def page_path(tmp_path_factory):
    folder = tmp_path_factory.mktemp("export-round42")
    grids = [GRID.replace("HEADS", str(h)).replace("TITLE", t) for h, t in TITLES.items()]
    cells = [v4.new_markdown_cell("# 08 · Head grids"), *map(v4.new_code_cell, [*grids, MODEL, POINTER])]
    nb = v4.new_notebook(cells=cells)
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    source = folder / "08_grids.ipynb"
    nbformat.write(nb, source)
    target, failures = export.export_notebook(source, folder / "html")
    assert failures == [], failures
    return target


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_in_the_export_every_head_keeps_the_same_words_in_a_phones_window(page_path, reader, scheme):  # noqa: F811
    r = reader(page_path, 390, scheme)
    settle(r)
    assert_same_words_under_every_head(r.page.evaluate(GRID_JS), f"export, 390 px, {scheme}")
    crowded = [a for h in r.page.evaluate(HEATMAPS_JS) for a in h["axes"] if a["crowded"]]
    assert crowded == [], f"390 px, {scheme}: labels on top of each other: {crowded}"
    assert r.clean(), (r.requests, r.errors)


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_in_the_export_a_shape_reads_on_one_line_in_a_phones_window(page_path, reader, scheme):  # noqa: F811
    r = reader(page_path, 390, scheme)
    shapes = r.page.evaluate(SHAPES_JS)
    assert len(shapes) >= 10, shapes  # the explorer's table is on the page
    broken = [s["text"] for s in shapes if s["lines"] > 1]
    assert broken == [], f"390 px, {scheme}: shapes broken over lines: {broken}"
    assert r.clean(), (r.requests, r.errors)


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_in_the_export_the_tallest_bar_keeps_its_word_in_a_phones_window(page_path, reader, scheme):  # noqa: F811
    r = reader(page_path, 390, scheme)
    settle(r)
    (chart,) = r.page.evaluate(BARS_JS)
    assert len(chart["labelled"]) < chart["words"], chart  # the case at hand: thinned
    assert chart["tallest"] == 1, chart
    assert chart["tallest"] in chart["labelled"], f"390 px, {scheme}: the tall bar lost its word: {chart}"
    assert r.clean(), (r.requests, r.errors)


@pytest.fixture(scope="module")
def grid_spec() -> str:
    import torch
    from transformer_course import figures
    from transformer_course.widgets.view import figure_json

    words = WORDS.split()
    weights = torch.softmax(
        torch.randn(4, len(words), len(words), generator=torch.Generator().manual_seed(0)), -1
    )
    return figure_json(figures.head_grid_figure(weights, words, marks={1: "predicate"}, title=TITLES[4]))


def test_in_jupyterlab_every_head_keeps_the_same_words_in_a_narrow_view(lab_page, grid_spec):  # noqa: F811
    drawn = drawn_in_lab(lab_page, grid_spec, 400, dark=False)
    assert not any(a["crowded"] for a in drawn["axes"]), drawn["axes"]
    assert_same_words_under_every_head(lab_page.evaluate(f"() => ({GRID_JS})(document.body)"), "live, 400 px")
