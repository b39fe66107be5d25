"""Heatmaps' words and numbers, as a reader sees them at 1280 px and in a phone's window (400 px),
light and dark: in the offline export (static/export_theme.js) and in JupyterLab's FigureView
(static/figure_view.js, in a plain page with a stand-in for the kernel's model).

1. Every column and row is labelled where the words fit. The export thinned a heatmap's words by
   its widest word standing upright: chapter 05's "Mean of the 8 heads shown" kept 6 of its 11
   words at 1280 px, where all 11 read, and an attention heatmap over 22 words every other one.
   Where they would overlap (400 px) they are thinned, never drawn on top of each other.
2. The numbers in heatmap cells are never drawn below 12 px: plotly shrinks them to their cells,
   and chapter 03's Q, K and V came out 5 px high at 400 px. Too small, they are not drawn (the
   hover still gives them), as a bar's value is hidden rather than shrunk (figures/bars.py).
"""

from __future__ import annotations

import json

import nbformat
import pytest
from plotly.offline import get_plotlyjs
from transformer_course import export, widgets
from transformer_course.figures.themes import theme_swap
from transformer_course.widgets.view import STATIC, FigureView, view_js

from .test_export_fifth import reader, settle  # noqa: F401 (reader: a fixture)

pytestmark = [pytest.mark.browser, pytest.mark.timeout(300)]

v4 = nbformat.v4
MIN_CELL_TEXT = 12  # px: figures/base.py's MIN_VALUE_TEXT, for a bar's value

# 22 words: an attention heatmap over them, full width, and (below) chapter 05's explorer, whose
# "Mean of the 8 heads shown" has 11 words in a third of the page.
WORDS = "lily and tom were in the park . tom bought a pizza . the pizza came out of the oven and it"
SETUP = """import torch
from transformer_course import figures, widgets
from transformer_course.attention import MultiHeadAttention, SingleHeadAttention
from transformer_course.embeddings import TokenEmbedding
from transformer_course.tokenizer import course_vocab

vocab = course_vocab()"""
ATTENTION = f"""words = "{WORDS}".split()
weights = torch.softmax(torch.randn(len(words), len(words), generator=torch.Generator().manual_seed(0)), -1)
figures.attention_heatmap(weights, words, title="An untrained head over 22 words")"""
HEADS = """torch.manual_seed(0)
widgets.HeadGridExplorer(vocab, TokenEmbedding(len(vocab), 32, scale=False), MultiHeadAttention(32, 8),
                         text="the pizza came out of the oven and it tasted good")"""
# Chapter 03's explorer: Q, K and V side by side, numbers in their cells.
QKV_ARGS = "vocab, TokenEmbedding(len(vocab), 8, scale=False), SingleHeadAttention(8, d_k=4)"
QKV = f"""torch.manual_seed(0)
widgets.QKVExplorer({QKV_ARGS}, text="I'm playing with a cat", query=0)"""

# Per heatmap: each axis named word by word, with the words the figure has (before any
# thinning: export_theme.js keeps them in _tcTicks), those drawn, and whether two drawn ones
# overlap (slanted ones: closer across the slant than their font size, as test_export_fifth
# measures); each number in its cells, with its font size and whether it is drawn.
HEATMAPS_JS = """(root) => [...(root || document).querySelectorAll('.js-plotly-plot')]
  .filter(div => (div._fullData || []).some(t => t.type === 'heatmap')).map(div => {
  const title = ((div.querySelector('.gtitle') || {}).textContent || '');
  const axes = Object.keys(div._fullLayout).filter(k => /^[xy]axis\\d*$/.test(k)).map(name => {
    const axis = div._fullLayout[name], own = (div._tcTicks || {})[name];
    const words = own ? own.text : axis.ticktext;
    const drawn = [...div.querySelectorAll('.' + axis._id + 'tick text')].filter(t => t.textContent.trim())
      .map(t => {
        const r = t.getBoundingClientRect();
        const m = /rotate\\((-?[\\d.]+)/.exec(t.getAttribute('transform') || '');
        return {text: t.textContent, x0: r.left, x1: r.right, y0: r.top, y1: r.bottom,
                size: parseFloat(getComputedStyle(t).fontSize), angle: m ? +m[1] : 0};
      });
    let crowded = false;
    if (name[0] === 'y') {
      const rows = [...drawn].sort((a, b) => a.y0 - b.y0);
      crowded = rows.slice(1).some((t, i) => t.y0 < rows[i].y1 - 0.5);
    } else if (drawn.length && drawn[0].angle) {
      // A slanted label ends at its tick: its right end when turned up (a negative angle).
      const angle = drawn[0].angle, sin = Math.abs(Math.sin(angle * Math.PI / 180));
      const at = drawn.map(t => (angle < 0 ? t.x1 : t.x0)).sort((a, b) => a - b);
      crowded = at.slice(1).some((v, i) => (v - at[i]) * sin < drawn[0].size - 0.5);
    } else {
      const cols = [...drawn].sort((a, b) => a.x0 - b.x0);
      crowded = cols.slice(1).some((t, i) => t.x0 < cols[i].x1 - 0.5);
    }
    return {name, words: axis.tickmode === 'array' ? (words || []).length : null,
            drawn: drawn.map(t => t.text), crowded};
  });
  const numbers = [...div.querySelectorAll('g.heatmap-label text')].filter(t => t.textContent.trim())
    .map(t => ({size: parseFloat(getComputedStyle(t).fontSize),
                shown: getComputedStyle(t).display !== 'none' && t.getBoundingClientRect().height > 0}));
  const hovers = (div._fullData || []).filter(t => t.type === 'heatmap').map(t => t.hovertemplate || '');
  return {title, axes, numbers, hovers};
})"""


@pytest.fixture(scope="module")
def page_path(tmp_path_factory):
    folder = tmp_path_factory.mktemp("heatmap-labels")
    cells = [v4.new_markdown_cell("# 05 · Heatmaps"), *map(v4.new_code_cell, (SETUP, ATTENTION, HEADS, QKV))]
    nb = v4.new_notebook(cells=cells)
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    source = folder / "05_heatmaps.ipynb"
    nbformat.write(nb, source)
    target, failures = export.export_notebook(source, folder / "html")
    assert failures == [], failures
    return target


def heatmaps(r) -> list[dict]:
    settle(r)
    found = r.page.evaluate(HEATMAPS_JS)
    titles = [h["title"] for h in found]
    for wanted in ("An untrained head over 22 words", "Mean of the 8 heads shown", "Q, K, V"):
        assert any(t.startswith(wanted) for t in titles), f"no heatmap titled {wanted!r}: {titles}"
    return found


def named(found: list[dict], title: str) -> dict:
    return next(h for h in found if h["title"].startswith(title))


def assert_labels_apart(found: list[dict], where: str) -> None:
    crowded = [(h["title"], a["name"], a["drawn"]) for h in found for a in h["axes"] if a["crowded"]]
    assert crowded == [], f"{where}: labels drawn on top of each other: {crowded}"


def assert_numbers_readable(found: list[dict], where: str) -> None:
    tiny = [
        (h["title"], n["size"])
        for h in found
        for n in h["numbers"]
        if n["shown"] and n["size"] < MIN_CELL_TEXT
    ]
    assert tiny == [], f"{where}: cell numbers drawn below {MIN_CELL_TEXT} px: {tiny[:5]}"


# --- the offline export ---


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_every_word_is_labelled_where_the_words_fit(page_path, reader, scheme):  # noqa: F811
    found = heatmaps(reader(page_path, 1280, scheme))
    assert_labels_apart(found, f"1280 px, {scheme}")
    for title in ("An untrained head over 22 words", "Mean of the 8 heads shown"):
        for axis in named(found, title)["axes"]:
            assert axis["words"] and len(axis["drawn"]) == axis["words"], (
                f"1280 px, {scheme}: {title!r} {axis['name']} labels {len(axis['drawn'])} "
                f"of its {axis['words']} words: {axis['drawn']}"
            )


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_words_are_thinned_only_where_they_would_overlap(page_path, reader, scheme):  # noqa: F811
    r = reader(page_path, 400, scheme)
    found = heatmaps(r)
    assert_labels_apart(found, f"400 px, {scheme}")
    x = named(found, "An untrained head over 22 words")["axes"][0]
    assert 2 <= len(x["drawn"]) < x["words"], f"400 px: 22 words in a phone's window, thinned: {x}"
    r.page.set_viewport_size({"width": 1280, "height": 900})  # and all back when the window widens
    settle(r)
    x = named(heatmaps(r), "An untrained head over 22 words")["axes"][0]
    assert len(x["drawn"]) == x["words"], f"widened to 1280 px: {x}"


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_cell_numbers_are_hidden_rather_than_drawn_too_small(page_path, reader, scheme):  # noqa: F811
    r = reader(page_path, 400, scheme)
    found = heatmaps(r)
    assert_numbers_readable(found, f"400 px, {scheme}")
    qkv = named(found, "Q, K, V")
    assert any(n["size"] < MIN_CELL_TEXT for n in qkv["numbers"]), f"the case at hand: {qkv['numbers'][:3]}"
    assert all("%{z" in h for h in qkv["hovers"]), f"the hover gives the values: {qkv['hovers']}"
    r.page.set_viewport_size({"width": 1280, "height": 900})  # back when there is room
    settle(r)
    found = heatmaps(r)
    assert_numbers_readable(found, f"widened to 1280 px, {scheme}")
    assert all(n["shown"] for n in named(found, "Q, K, V")["numbers"]), "1280 px: Q, K and V's numbers"


# --- JupyterLab's FigureView ---

# A stand-in for the kernel's models (anywidget's model API as figure_view.js uses it).
MODEL_JS = """
class Model {
  constructor(attrs, manager) { this.attrs = attrs; this.handlers = {}; this.widget_manager = manager; }
  get(key) { return this.attrs[key]; }
  on(event, callback) { (this.handlers[event] ||= []).push(callback); }
}
window.__tcModel = Model;
"""

# A FigureView of `spec` filling the page's width; resolves once drawn, with HEATMAPS_JS's answer.
SHOW_JS = """async (spec) => {
  document.body.innerHTML = '';
  const el = document.createElement('div');
  document.body.appendChild(el);
  const model = new window.__tcModel({_library: 'IPY_MODEL_library', _spec: spec, _revision: 1},
                                     window.__tcManager);
  await window.__tcView.render({model, el});
  const div = el.querySelector('.tc-figure');
  while (div.dataset.tcRevision !== '1' || div.dataset.tcBusy) await new Promise(r => setTimeout(r, 5));
  await new Promise(r => setTimeout(r, 300));
  return (HEATMAPS)(el);
}""".replace("HEATMAPS", HEATMAPS_JS)


@pytest.fixture(scope="module")
def lab_page(browser):
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.set_content("<html><body style='margin:0' data-jp-theme-light='true'></body></html>")
    page.add_script_tag(content=MODEL_JS)
    page.add_script_tag(content=view_js() + "\nwindow.__tcView = { render };", type="module")
    page.wait_for_function("() => window.__tcView")
    library = {
        "source": get_plotlyjs(),
        "config": json.loads((STATIC / "plotly_config.json").read_text(encoding="utf-8")),
        "themes": theme_swap(),
        "css": "",
    }
    page.evaluate(
        """(library) => {
          const lib = new window.__tcModel(library, null);
          window.__tcManager = { get_model: async () => lib };
        }""",
        library,
    )
    yield page
    page.close()


@pytest.fixture(scope="module")
def qkv_spec() -> str:
    import torch
    from transformer_course.attention import SingleHeadAttention
    from transformer_course.embeddings import TokenEmbedding
    from transformer_course.tokenizer import course_vocab

    vocab = course_vocab()
    torch.manual_seed(0)
    explorer = widgets.QKVExplorer(
        vocab,
        TokenEmbedding(len(vocab), 8, scale=False),
        SingleHeadAttention(8, d_k=4),
        text="I'm playing with a cat",
    )
    specs = [v._spec for v in explorer.views.values() if isinstance(v, FigureView) and '"Q, K, V' in v._spec]
    assert specs, "QKVExplorer shows no 'Q, K, V' figure"
    return specs[0]


def drawn_in_lab(page, spec: str, width: int, dark: bool) -> dict:
    page.set_viewport_size({"width": width, "height": 900})
    page.evaluate(f"() => document.body.setAttribute('data-jp-theme-light', '{str(not dark).lower()}')")
    return page.evaluate(SHOW_JS, spec)[0]


@pytest.mark.parametrize("dark", [False, True], ids=["light", "dark"])
def test_in_jupyterlab_cell_numbers_are_hidden_rather_than_drawn_too_small(lab_page, qkv_spec, dark):
    narrow = drawn_in_lab(lab_page, qkv_spec, 400, dark)
    assert any(n["size"] < MIN_CELL_TEXT for n in narrow["numbers"]), (
        f"the case at hand: {narrow['numbers'][:3]}"
    )
    assert_numbers_readable([narrow], f"JupyterLab, 400 px, dark={dark}")
    wide = drawn_in_lab(lab_page, qkv_spec, 1280, dark)
    assert wide["numbers"] and all(n["shown"] for n in wide["numbers"]), f"1280 px: {wide['numbers'][:3]}"
    assert_numbers_readable([wide], f"JupyterLab, 1280 px, dark={dark}")


@pytest.fixture(scope="module")
def attention_spec() -> str:
    import torch
    from transformer_course import figures
    from transformer_course.widgets.view import figure_json

    words = WORDS.split()
    weights = torch.softmax(
        torch.randn(len(words), len(words), generator=torch.Generator().manual_seed(0)), -1
    )
    return figure_json(figures.attention_heatmap(weights, words, title="An untrained head over 22 words"))


@pytest.mark.parametrize("dark", [False, True], ids=["light", "dark"])
def test_in_jupyterlab_every_word_is_labelled_where_the_words_fit(lab_page, attention_spec, dark):
    wide = drawn_in_lab(lab_page, attention_spec, 1280, dark)
    assert_labels_apart([wide], f"JupyterLab, 1280 px, dark={dark}")
    assert all(len(a["drawn"]) == len(WORDS.split()) for a in wide["axes"]), f"1280 px: {wide['axes']}"
    narrow = drawn_in_lab(lab_page, attention_spec, 400, dark)
    assert_labels_apart([narrow], f"JupyterLab, 400 px, dark={dark}")
    x = narrow["axes"][0]  # its "words": those drawn, in a FigureView (no _tcTicks)
    assert 2 <= len(x["drawn"]) < len(WORDS.split()), f"400 px: 22 words in a narrow view, thinned: {x}"
    # The same view, its window widened: every word again.
    lab_page.set_viewport_size({"width": 1280, "height": 900})
    lab_page.wait_for_timeout(600)
    again = lab_page.evaluate(f"() => ({HEATMAPS_JS})(document.body)")[0]
    assert all(len(a["drawn"]) == len(WORDS.split()) for a in again["axes"]), (
        f"widened to 1280 px: {again['axes']}"
    )
    assert_labels_apart([again], f"JupyterLab, widened to 1280 px, dark={dark}")


DRAWN = {  # a label as given → the text plotly draws, which is what takes room
    "<pad>": "<pad>",
    "<b>x</b>": "x",
    "&lt;b>x": "<b>x",
    "W<sub>Q</sub>": "WQ",
    "R&amp;D": "R&D",
    "<eos>": "<eos>",
}


def bundle(where: str) -> str:
    """The JavaScript the live view's module or an exported page's theme script is made of."""
    from transformer_course.export.page import EXPORT_SCRIPTS

    if where == "live view":
        return view_js()
    return "\n".join((STATIC / f).read_text(encoding="utf-8") for f in EXPORT_SCRIPTS)


@pytest.mark.parametrize("where", ["live view", "export"])
def test_labels_are_measured_as_plotly_draws_them(browser, where):
    """<pad> was measured as a tag, 0 px wide (every "<…>" was stripped), so columns of it were
    thinned too little; "&lt;" as four characters where one is drawn. The live view and the
    export measure with the one drawnText (static/column_labels.js), each exactly once."""
    import re

    found = re.findall(r"function drawnText\(line\) \{.*?\n\s*\}\n", bundle(where), re.S)
    assert len(found) == 1, f"the {where} defines drawnText {len(found)} times, not once"
    page = browser.new_page()
    try:
        got = page.evaluate(f"(labels) => {{ {found[0]}; return labels.map(drawnText); }}", list(DRAWN))
    finally:
        page.close()
    assert got == list(DRAWN.values())
