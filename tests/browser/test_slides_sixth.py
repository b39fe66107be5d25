"""What an audit of the decks (1280 × 720, JupyterLab Dark) and of narrow pages found, measured
in the page.

- Chapter 02's PositionalExplorer: the waves plot was squeezed to about 150 px beside its
  vertical legend; the legend is now a row above the plot, clear of both titles.
- Chapter 04's "…and the softmax gradient fades": the log axis's labels 0.35, 0.3 and 0.25
  were 17 px apart for 16 px text, and none was under 0.1 though the curve fell to 0.06.
- Chapter 03's Q, K and V panel titles ran into each other ("Q (queries)K (keys)") when the
  figure was narrow; they break onto two lines there, and only there.
- The course's stylesheet (darker ANSI colours for a learner's errors on JupyterLab Light)
  reached the page with the first figure; chapters 05, 07, 08 and 09 have an exercise first.
  It now comes with the chapter's import cell.
"""

from __future__ import annotations

import nbformat
import pytest

from .deck import start_deck, stop_deck
from .lab import BUILD, open_notebook, run_all, shutdown_kernels, wait_executed
from .test_slide_crowding import present_until
from .test_theme import set_theme

pytestmark = pytest.mark.browser

SCREEN = {"width": 1280, "height": 720}
DECK_FONT_PX = 16  # figure_view.js: DECK_FONT
NOTEBOOK = "zz_slides_sixth.ipynb"
STYLE_NOTEBOOK = "zz_style_first.ipynb"

SETUP = """\
from transformer_course import figures, widgets
from transformer_course.attention import SingleHeadAttention
from transformer_course.embeddings import TokenEmbedding
from transformer_course.softmax import saturation_experiment
from transformer_course.tokenizer import course_vocab

vocab = course_vocab()
sat = saturation_experiment((1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024), length=16, rows=256)"""

POSITIONS = "widgets.PositionalExplorer(length=24, d_model=32)"  # as chapter 02's cell

# As chapter 04's cell (three lines of code above the figure).
GRADIENT = """\
assert sat.grad_norm[-1] < 0.25 * sat.grad_norm.max()                          # fades, unscaled
assert (sat.scaled_grad_norm - sat.scaled_grad_norm[0]).abs().max() < 0.05     # flat, scaled
figures.saturation_figure(sat, "grad_norm", title="…and the softmax gradient fades")"""

QKV = """\
explorer_embed = TokenEmbedding(len(vocab), 8, scale=False)
explorer_head = SingleHeadAttention(8, d_k=4)
widgets.QKVExplorer(vocab, explorer_embed, explorer_head, text="I'm playing with a cat", query=0)"""

# Per figure of a cell: the plot's box, the legend's, the titles', the y tick labels'
# (text and box), and each annotation's box and number of lines.
LAYOUT_JS = """(cell) => [...cell.querySelectorAll('.tc-figure')].map(div => {
  const box = (el) => { if (!el) return null; const r = el.getBoundingClientRect();
    return r.width ? {x0: r.left, x1: r.right, y0: r.top, y1: r.bottom} : null; };
  return {
    title: ((div.querySelector('.gtitle') || {}).textContent || ''),
    plot: box(div.querySelector('.draglayer .nsewdrag')),
    legend: box(div.querySelector('g.legend')),
    titleBox: box(div.querySelector('.gtitle')),
    xTitle: box(div.querySelector('.g-xtitle text')),
    yTicks: [...div.querySelectorAll('.ytick text')].filter(t => t.textContent.trim())
      .map(t => ({text: t.textContent, ...box(t)})),
    notes: [...div.querySelectorAll('g.annotation')].map(g => ({
      text: g.textContent, ...box(g), lines: g.querySelectorAll('tspan.line').length || 1})),
  };
})"""


@pytest.fixture(scope="module")
def notebook(lab):
    cells = [
        nbformat.v4.new_markdown_cell("# Legible figures"),
        nbformat.v4.new_code_cell(SETUP),
        nbformat.v4.new_markdown_cell("## Explore: the waves of each position"),
        nbformat.v4.new_code_cell(POSITIONS),
        nbformat.v4.new_markdown_cell("## …and the softmax gradient fades"),
        nbformat.v4.new_code_cell(GRADIENT),
        nbformat.v4.new_markdown_cell("## Explore: queries, keys and values"),
        nbformat.v4.new_code_cell(QKV),
    ]
    kinds = ["slide", "skip", "slide", "subslide", "slide", "subslide", "slide", "subslide"]
    return write_notebook(lab, NOTEBOOK, cells, kinds)


def write_notebook(lab, name: str, cells: list, kinds: list[str]) -> str:
    for cell, kind in zip(cells, kinds):
        cell.metadata["slideshow"] = {"slide_type": kind}
    nb = nbformat.v4.new_notebook(cells=cells)
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3 (ipykernel)",
        "language": "python",
    }
    nbformat.write(nb, str(lab.root / name))
    return name


def overlap(a: dict | None, b: dict | None) -> float:
    """Pixels two boxes overlap by (the lesser of the two directions), 0 when apart."""
    if not a or not b:
        return 0.0
    x = min(a["x1"], b["x1"]) - max(a["x0"], b["x0"])
    y = min(a["y1"], b["y1"]) - max(a["y0"], b["y0"])
    return max(0.0, min(x, y))


def figures_of(page, index: int) -> list[dict]:
    return page.locator(".jp-Notebook-cell").nth(index).evaluate(LAYOUT_JS)


def waves_problems(figures: list[dict], where: str) -> list[str]:
    waves = next(f for f in figures if f["title"].startswith("Pair 0"))
    problems = []
    if waves["plot"]["x1"] - waves["plot"]["x0"] < 250:
        problems.append(f"{where}: the waves plot is {waves['plot']['x1'] - waves['plot']['x0']:.0f} px wide")
    for name in ("plot", "titleBox", "xTitle"):
        if overlap(waves["legend"], waves[name]) > 1:
            problems.append(
                f"{where}: the legend overlaps the {name} by {overlap(waves['legend'], waves[name]):.0f} px"
            )
    return problems


def tick_problems(figure: dict, where: str) -> list[str]:
    """Log-axis labels closer than 1.5 lines of text, or none under the curve's bottom (0.1)."""
    ticks = sorted(figure["yTicks"], key=lambda t: t["y0"])
    problems = []
    for a, b in zip(ticks, ticks[1:]):
        apart = (b["y0"] + b["y1"]) / 2 - (a["y0"] + a["y1"]) / 2
        if apart < 1.5 * DECK_FONT_PX:
            problems.append(f"{where}: {a['text']} and {b['text']} {apart:.0f} px apart")
    values = [float(t["text"].replace("−", "-").replace(",", "")) for t in ticks]
    if not values or min(values) >= 0.1:
        problems.append(f"{where}: no label under 0.1 (labels {values}) though the curve falls to 0.06")
    return problems


def crowded_titles(figure: dict) -> list[str]:
    """Panel titles that overlap each other or the figure's title."""
    notes, title = figure["notes"], {**figure["titleBox"], "text": figure["title"]}
    return [
        f"{a['text']!r}/{b['text']!r} by {overlap(a, b):.0f} px"
        for i, a in enumerate(notes)
        for b in [*notes[i + 1 :], title]
        if overlap(a, b) > 1
    ]


def qkv_of(page, index: int) -> dict:
    return next(f for f in figures_of(page, index) if f["title"].startswith("Q, K, V"))


def test_figures_read_on_a_slide_and_in_the_notebook(notebook, lab, browser):
    page = browser.new_page(viewport=SCREEN)
    shots = BUILD / "screenshots"
    shots.mkdir(parents=True, exist_ok=True)
    try:
        open_notebook(page, lab, notebook)
        run_all(page)
        wait_executed(page)
        problems = waves_problems(figures_of(page, 3), "notebook, light")
        for label, index in (("waves", 3), ("gradient", 5)):
            cell = page.locator(".jp-Notebook-cell").nth(index)
            cell.screenshot(path=str(shots / f"slides-sixth-{label}-notebook-light.png"))
        qkv = qkv_of(page, 7)
        problems += [f"notebook: panel titles overlap: {p}" for p in crowded_titles(qkv)]
        problems += [
            f"notebook at 1280 px: {n['text']!r} on {n['lines']} lines"
            for n in qkv["notes"]
            if n["lines"] > 1
        ]
        set_theme(page, "JupyterLab Dark", False)
        start_deck(page)
        measured = {}
        for label, index in (("waves", 3), ("gradient", 5), ("qkv", 7)):  # the deck goes forward
            present_until(page, index)
            page.screenshot(path=str(shots / f"slides-sixth-{label}-dark.png"))
            measured[label] = figures_of(page, index)
        problems += waves_problems(measured["waves"], "slide, dark")
        problems += tick_problems(measured["gradient"][0], "slide, dark")
        qkv = next(f for f in measured["qkv"] if f["title"].startswith("Q, K, V"))
        problems += [f"slide: {n['text']!r} on {n['lines']} lines" for n in qkv["notes"] if n["lines"] > 1]
        assert not problems, "\n".join(problems)
    finally:
        stop_deck(page)
        if page.evaluate("document.body.dataset.jpThemeLight") == "false":
            set_theme(page, "JupyterLab Light", True)
        page.close()
        shutdown_kernels(lab)


def test_panel_titles_break_onto_two_lines_when_the_figure_is_narrow(notebook, lab, browser):
    page = browser.new_page(viewport=SCREEN)
    try:
        open_notebook(page, lab, notebook)
        run_all(page)
        wait_executed(page)
        view = page.locator(".jp-Notebook-cell").nth(7).locator(".tc-figure").first
        wide = qkv_of(page, 7)
        for width in (300, 240):  # an export at 400 px, a phone
            view.evaluate(f"d => {{ d.parentElement.style.width = '{width}px'; }}")
            page.wait_for_timeout(1200)  # the ResizeObserver's relayout, then the titles' refit
            narrow = qkv_of(page, 7)
            view.screenshot(path=str(BUILD / "screenshots" / f"slides-sixth-qkv-{width}px.png"))
            assert not crowded_titles(narrow), f"at {width} px: {crowded_titles(narrow)}"
        view.evaluate("d => { d.parentElement.style.width = ''; }")
        page.wait_for_timeout(1200)
        again = qkv_of(page, 7)
        assert [n["lines"] for n in again["notes"]] == [n["lines"] for n in wide["notes"]] == [1, 1, 1], (
            "back at full width, each title is one line again"
        )
    finally:
        page.close()
        shutdown_kernels(lab)


# The contrast of each coloured part of an error's output against what it is drawn on.
CONTRAST_JS = """(cell) => {
  const rgb = (c) => (c.match(/[\\d.]+/g) || []).map(Number);
  const lum = ([r, g, b]) => [r, g, b].map(v => { v /= 255;
    return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; })
    .reduce((s, v, i) => s + v * [0.2126, 0.7152, 0.0722][i], 0);
  const behind = (el) => { for (; el; el = el.parentElement) {
    const c = rgb(getComputedStyle(el).backgroundColor);
    if (c.length === 3 || c[3] > 0) return c.slice(0, 3); }
    return [255, 255, 255]; };
  const parts = [...cell.querySelectorAll('.jp-OutputArea-output [class*="ansi-"]')];
  return parts.filter(s => s.textContent.trim())
    .map(s => { const a = lum(rgb(getComputedStyle(s).color)), b = lum(behind(s));
      return {text: s.textContent.slice(0, 30), cls: s.className,
              ratio: +((Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05)).toFixed(2)}; });
}"""


def test_a_syntax_error_before_any_figure_reads_on_light(lab, browser):
    cells = [
        nbformat.v4.new_code_cell("from transformer_course import checks, figures, widgets"),
        nbformat.v4.new_code_cell("def answer(x:\n    return x"),  # a learner's first try
    ]
    name = write_notebook(lab, STYLE_NOTEBOOK, cells, ["skip", "slide"])
    page = browser.new_page(viewport=SCREEN)
    try:
        open_notebook(page, lab, name)
        first = page.locator(".jp-Notebook-cell").nth(0)
        first.locator(".jp-InputArea-editor").click()
        page.keyboard.press("Shift+Enter")
        page.wait_for_selector("#tc-course-style", state="attached", timeout=30_000)
        assert first.locator(".jp-OutputArea-output").count() == 0, "the import cell shows nothing"
        assert page.locator(".tc-figure").count() == 0
        page.keyboard.press("Shift+Enter")  # the second cell, selected after the first ran
        second = page.locator(".jp-Notebook-cell").nth(1)
        second.locator(".jp-OutputArea-output").first.wait_for(timeout=30_000)
        page.wait_for_timeout(300)
        parts = second.evaluate(CONTRAST_JS)
        assert parts, "the SyntaxError's output has coloured parts to measure"
        faint = [p for p in parts if p["ratio"] < 4.5]
        assert not faint, f"parts of the error under 4.5:1 on JupyterLab Light: {faint}"
    finally:
        page.close()
        shutdown_kernels(lab)
