"""The offline export in a phone's window (400 px), light and dark, and back at 1280 px.

One small chapter (chapter 00's gradient explorer, chapter 06's mask explorer, an attention
heatmap over chapter 09's prompt) is exported by the exporter the command uses and opened in
Chromium:

- an axis title longer than its chart is drawn at the size that fits: chapter 00's
  "distance from the last token (steps back)" ran 12 px past the chart
  at 400 px and lost its end; at 1280 px it keeps its own size, also after a narrow window
  widened;
- a slanted tick label stays inside its chart: chapter 06's last "<pad>" ran 7 px past it;
- a view wider than its explorer's column scrolls to its end: chapter 06's table of the batch
  (462 px in a 328 px column) ran past the explorer's frame, which cut off its last columns;
- a heatmap's words along its axis are thinned where they would overlap: chapter 09's 26
  earlier tokens shared 96 px at 400 px, drawn on top of each other; at 1280 px every word is
  there, also after a narrow window widened.
"""

from __future__ import annotations

import nbformat
import pytest
from transformer_course import export

from .test_export_fourth import Reader

pytestmark = [pytest.mark.browser, pytest.mark.timeout(300)]

v4 = nbformat.v4
GRADIENTS = "from transformer_course import widgets\n\nwidgets.PathLengthExplorer(length=50, scale=1.0)"
MASKS = """from transformer_course import widgets
from transformer_course.attention import SingleHeadAttention
from transformer_course.embeddings import TokenEmbedding
from transformer_course.tokenizer import course_vocab

vocab = course_vocab()
sentences = ("I love deep learning", "the cat sat", "tell me about pizza and cheese")
widgets.MaskExplorer(vocab, TokenEmbedding(len(vocab), 16, scale=False), SingleHeadAttention(16),
                     sentences=sentences)"""

# As chapter 04's untrained head, over chapter 09's prompt: 21 words along each axis.
WORDS = "lily and tom were in the park . tom bought a pizza . the pizza came out of the oven and"
ATTENTION = f"""import torch
from transformer_course import figures

words = "{WORDS}".split()
weights = torch.softmax(torch.randn(len(words), len(words), generator=torch.Generator().manual_seed(0)), -1)
figures.attention_heatmap(weights, words, title="An untrained head")"""

# Every title and tick label of every chart that reaches past the chart's own box.
CUT_JS = """() => [...document.querySelectorAll('.js-plotly-plot')].flatMap(div => {
  const box = div.querySelector('.main-svg').getBoundingClientRect();
  const labels = [...div.querySelectorAll('.gtitle, text.xtitle, text.ytitle, .xtick text, .ytick text')];
  return labels.filter(t => t.textContent.trim()).flatMap(t => {
    const r = t.getBoundingClientRect();
    const cut = Math.max(box.left - r.left, r.right - box.right, box.top - r.top, r.bottom - box.bottom);
    return cut > 1 ? [`'${t.textContent.slice(0, 50)}' by ${Math.round(cut)} px`] : [];
  });
})"""

# Per chart, its x tick labels: how many, and whether neighbours overlap (slanted ones: closer
# across the slant than their font size, as tests/browser/test_slide_crowding.py measures).
X_TICKS_JS = """() => [...document.querySelectorAll('.js-plotly-plot')].map(div => {
  const x = [...div.querySelectorAll('.xtick text')].filter(t => t.textContent.trim()).map(t => {
    const r = t.getBoundingClientRect(), m = /rotate\\((-?[\\d.]+)/.exec(t.getAttribute('transform') || '');
    const size = parseFloat(getComputedStyle(t).fontSize);
    return {x0: r.left, x1: r.right, size, angle: m ? +m[1] : 0}; });
  const angle = x.length ? x[0].angle : 0;
  const at = x.map(t => (angle < 0 ? t.x1 : t.x0)).sort((a, b) => a - b);
  const gaps = at.slice(1).map((v, i) => v - at[i]);
  const sorted = [...x].sort((a, b) => a.x0 - b.x0);
  const crowded = angle
    ? gaps.some(g => g * Math.sin(Math.abs(angle) * Math.PI / 180) < x[0].size - 0.5)
    : sorted.slice(1).some((t, i) => t.x0 < sorted[i].x1 - 0.5);
  return {title: ((div.querySelector('.gtitle') || {}).textContent || ''), count: x.length, angle, crowded};
})"""

# The x titles' font sizes, chart by chart.
X_TITLES_JS = """() => [...document.querySelectorAll('text.xtitle')].map(t => ({
  text: t.textContent, size: parseFloat(getComputedStyle(t).fontSize)}))"""

# The batch's table, scrolled to its end inside the view that holds it: is its last column
# inside that view, and is the view inside the explorer's frame?
TABLE_END_JS = """() => {
  const table = document.querySelector('.tc-snapshot table.tc-batch');
  const view = table.parentElement, frame = table.closest('.tc-snapshot');
  view.scrollLeft = view.scrollWidth;
  const right = el => Math.round(el.getBoundingClientRect().right);
  return {end: right(table), seen: right(view), frame: right(frame)};
}"""


@pytest.fixture(scope="module")
def page_path(tmp_path_factory):
    folder = tmp_path_factory.mktemp("export-fifth")
    cells = [
        v4.new_markdown_cell("# 06 · Narrow charts"),
        v4.new_code_cell(GRADIENTS),
        v4.new_code_cell(MASKS),
        v4.new_code_cell(ATTENTION),
    ]
    nb = v4.new_notebook(cells=cells)
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    source = folder / "06_narrow.ipynb"
    nbformat.write(nb, source)
    target, failures = export.export_notebook(source, folder / "html")
    assert failures == [], failures
    return target


@pytest.fixture
def reader(browser):
    """Opens the page (Reader: nothing but its own file may load); closed after the test."""
    opened = []

    def open_(path, width: int = 1280, scheme: str = "light") -> Reader:
        opened.append(Reader(browser, path, width, scheme))
        return opened[-1]

    yield open_
    for r in opened:
        r.context.close()


def settle(r: Reader) -> None:
    """A title refitted after the plot has settled (a frame later), then drawn again."""
    r.page.wait_for_timeout(800)


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_titles_and_tick_labels_stay_inside_their_chart_in_a_phones_window(page_path, reader, scheme):
    r = reader(page_path, 400, scheme)
    settle(r)
    cut = r.page.evaluate(CUT_JS)
    assert cut == [], f"400 px, {scheme}: labels past their chart: {cut}"
    assert r.clean(), (r.requests, r.errors)


def test_an_axis_title_keeps_its_own_size_where_there_is_room(page_path, reader):
    wide = reader(page_path, 1280)
    settle(wide)
    own = {t["text"]: t["size"] for t in wide.page.evaluate(X_TITLES_JS)}
    narrow = reader(page_path, 400)
    settle(narrow)
    shrunk = {t["text"]: t["size"] for t in narrow.page.evaluate(X_TITLES_JS)}
    long_title = next(text for text in own if text.startswith("distance from the last token"))
    assert shrunk[long_title] < own[long_title], (own, shrunk)  # the case at hand: it did not fit
    narrow.page.set_viewport_size({"width": 1280, "height": 900})
    settle(narrow)
    settle(narrow)
    again = {t["text"]: t["size"] for t in narrow.page.evaluate(X_TITLES_JS)}
    assert again == own, f"after the window widened: {again}, drawn at 1280 px: {own}"


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_a_view_wider_than_its_column_scrolls_to_its_end(page_path, reader, scheme):
    r = reader(page_path, 400, scheme)
    table = r.page.evaluate(TABLE_END_JS)
    assert table["end"] <= table["seen"] + 1, f"the table's last column cannot be reached: {table}"
    assert table["seen"] <= table["frame"] + 1, f"the view runs past the explorer's frame: {table}"


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_words_along_an_axis_are_thinned_where_they_would_overlap(page_path, reader, scheme):
    r = reader(page_path, 400, scheme)
    settle(r)
    narrow = r.page.evaluate(X_TICKS_JS)
    crowded = [c for c in narrow if c["crowded"]]
    assert crowded == [], f"400 px, {scheme}: overlapping labels: {crowded}"
    head = next(c for c in narrow if c["title"].startswith("An untrained head"))
    assert 2 <= head["count"] < len(WORDS.split()), f"thinned, not emptied: {head}"
    r.page.set_viewport_size({"width": 1280, "height": 900})
    settle(r)
    settle(r)
    wide = next(c for c in r.page.evaluate(X_TICKS_JS) if c["title"].startswith("An untrained head"))
    assert wide["count"] == len(WORDS.split()) and not wide["crowded"], f"every word at 1280 px: {wide}"


# As chapter 03's explorer: Q, K and V side by side, each titled by an annotation.
QKV = """from transformer_course import widgets
from transformer_course.attention import SingleHeadAttention
from transformer_course.embeddings import TokenEmbedding
from transformer_course.tokenizer import course_vocab

vocab = course_vocab()
widgets.QKVExplorer(vocab, TokenEmbedding(len(vocab), 8, scale=False), SingleHeadAttention(8, d_k=4),
                    text="I'm playing with a cat", query=0)"""

# Per chart with panel titles: how many, how many pairs overlap, and each title's lines.
PANEL_TITLES_JS = """() => [...document.querySelectorAll('.js-plotly-plot')].map(div => {
  const titles = [...div.querySelectorAll('g.annotation[data-index]')].filter(g => g.textContent.trim());
  const boxes = titles.map(g => g.getBoundingClientRect());
  let overlaps = 0;
  boxes.forEach((a, i) => boxes.slice(i + 1).forEach(b => {
    const apart = a.right <= b.left + 1 || b.right <= a.left + 1
      || a.bottom <= b.top + 1 || b.bottom <= a.top + 1;
    if (!apart) overlaps++;
  }));
  const lines = titles.map(g => g.querySelectorAll('tspan.line').length || 1);
  return {count: titles.length, overlaps, lines};
})"""


@pytest.fixture(scope="module")
def qkv_path(tmp_path_factory):
    folder = tmp_path_factory.mktemp("export-fifth-qkv")
    nb = v4.new_notebook(cells=[v4.new_markdown_cell("# 03 · Q, K and V"), v4.new_code_cell(QKV)])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    source = folder / "03_qkv.ipynb"
    nbformat.write(nb, source)
    target, failures = export.export_notebook(source, folder / "html")
    assert failures == [], failures
    return target


def panel_titles(r: Reader, ok, seconds: float = 5.0) -> list[dict]:
    """The charts with three panel titles or more, once ``ok(charts)`` holds (the titles are
    refitted a frame after the chart settles), or as they are after ``seconds``."""
    for _ in range(int(seconds * 10)):
        charts = [c for c in r.page.evaluate(PANEL_TITLES_JS) if c["count"] >= 3]
        if charts and ok(charts):
            break
        r.page.wait_for_timeout(100)
    return charts


def test_panel_titles_do_not_run_into_each_other_in_a_phones_window(qkv_path, reader):
    """Chapter 03's "Q (queries)", "K (keys)" and "V (values)" ran together at 400 px; at
    1280 px each stays on one line, as the figure has it."""
    narrow = reader(qkv_path, 400)
    charts = panel_titles(narrow, lambda cs: all(c["overlaps"] == 0 for c in cs))
    assert charts and all(c["overlaps"] == 0 for c in charts), f"400 px: {charts}"
    wide = reader(qkv_path, 1280)
    charts = panel_titles(wide, lambda cs: all(set(c["lines"]) == {1} for c in cs))
    assert charts and all(set(c["lines"]) == {1} for c in charts), f"1280 px: {charts}"
