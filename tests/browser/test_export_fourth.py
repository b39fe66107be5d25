"""The offline export as a reader on a phone, a laptop or a dark projector sees it.

One small chapter (a line of code longer than a phone's screen, an explorer, a cell that
raises) is exported by the exporter the command uses, then opened in Chromium at 400 and
800 px, light and dark, with every request other than the page's own file refused and
recorded, and every console error recorded:

- a long line of code scrolls inside its cell; the lab template's editor hid what ran past
  it (the end of the line cut off at 800 px, half of it at 400, with no scrollbar);
- an explorer's snapshot fits a 400 px window: its views' 420 px columns ran past its frame
  and cut off the right of every chart in it;
- a traceback (and any coloured output) reads at 4.5:1 on either theme: its colours were
  fixed for neither (yellow, cyan and green at 1.5 to 2.7:1 on the light theme's pink error
  box, 2.9 to 4:1 on the dark one's; IPython's 256-colour keywords an inline rgb(0,135,0));
- the chapter bar wraps its links in a 400 px window; the theme button's words broke over
  three lines ("☾ / Dark / theme");
- keyboard focus on the theme button shows as a ring that reads on either theme (3:1 at
  least); the browser's own was near-black on the dark theme's near-black bar.
"""

from __future__ import annotations

import re

import nbformat
import pytest
from transformer_course import export

from .test_export_offline import LOW_CONTRAST, MEASURE, misfits

pytestmark = [pytest.mark.browser, pytest.mark.timeout(300)]

v4 = nbformat.v4
LONG_LINE = (
    "total = 1 + 2  # " + "a comment that runs on past the right edge of a phone, " * 2 + "END-OF-LINE"
)
EXPLORER = """from transformer_course import widgets
from transformer_course.embeddings import TokenEmbedding
from transformer_course.tokenizer import course_vocab

vocab = course_vocab()
widgets.EmbeddingExplorer(vocab, TokenEmbedding(len(vocab), 8), text="the cat saw the dog")"""
# A printed line in a 256-colour olive (rgb(175,175,0): 2.2:1 on white), as a library's warning
# may be: the nearest basic colour (yellow) instead, in the theme's shade.
COLOURED = r'print("\x1b[38;5;142mwarning: a line in olive\x1b[0m")'
RAISES = "def broken(d_k):\n    raise ValueError(f'd_k must be positive, got {d_k}')\n\nbroken(-1)"


@pytest.fixture(scope="module")
def page_path(tmp_path_factory):
    folder = tmp_path_factory.mktemp("export-fourth")
    nb = v4.new_notebook(
        cells=[
            v4.new_markdown_cell("# 01 · Narrow\n\nA long line, an explorer, an error."),
            v4.new_code_cell(LONG_LINE),
            v4.new_code_cell(EXPLORER),
            v4.new_code_cell(COLOURED),
            v4.new_code_cell(RAISES),
        ]
    )
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    source = folder / "01_narrow.ipynb"
    nbformat.write(nb, source)
    nav = {
        "index": "index.html",
        "prev": {"href": "00_welcome.html", "title": "00 · Welcome: Transformers from scratch"},
        "next": {
            "href": "02_positional_encoding.html",
            "title": "02 · Positional encoding: where is each word?",
        },
    }
    target, failures = export.export_notebook(source, folder / "html", nav=nav)
    assert [f.where for f in failures] == ["cell 5 (In [4])"], failures  # exported all the same
    return target


class Reader:
    """The page in a fresh browser context: nothing but its own file may load."""

    def __init__(self, browser, path, width: int, scheme: str):
        self.context = browser.new_context(viewport={"width": width, "height": 900}, color_scheme=scheme)
        self.requests: list[str] = []
        self.errors: list[str] = []
        self.context.route(
            re.compile(r"^(?!file:|data:|blob:|about:)"),
            lambda route: (self.requests.append(route.request.url), route.abort()),
        )
        self.page = self.context.new_page()
        self.page.on("pageerror", lambda err: self.errors.append(str(err)))
        self.page.on("console", lambda msg: self.errors.append(msg.text) if msg.type == "error" else None)
        self.page.goto(path.as_uri())
        self.page.wait_for_function(f"() => window.Plotly && ({MEASURE})().every(c => c.drawn)")
        self.page.wait_for_timeout(300)  # the refit after the grid settles

    def clean(self) -> bool:
        return self.requests == [] and self.errors == []


@pytest.fixture
def reader(browser):
    opened = []

    def open_(path, width: int = 1280, scheme: str = "light") -> Reader:
        opened.append(Reader(browser, path, width, scheme))
        return opened[-1]

    yield open_
    for r in opened:
        r.context.close()


# The end of the long line, after scrolling its code block all the way right: is it inside the
# cell's editor (what the reader can see), and can the block scroll at all?
LINE_END = """() => {
  const pre = [...document.querySelectorAll('.jp-InputArea-editor pre')]
    .find(p => p.textContent.includes('END-OF-LINE'));
  const editor = pre.closest('.jp-InputArea-editor');
  pre.scrollLeft = pre.scrollWidth;
  const walk = document.createTreeWalker(pre, NodeFilter.SHOW_TEXT);
  let node = walk.nextNode();
  while (node && !node.textContent.includes('END-OF-LINE')) node = walk.nextNode();
  const range = document.createRange(), at = node.textContent.indexOf('END-OF-LINE');
  range.setStart(node, at); range.setEnd(node, at + 'END-OF-LINE'.length);
  const end = range.getBoundingClientRect(), box = editor.getBoundingClientRect();
  return {end: Math.round(end.right), visible_right: Math.round(box.right),
          overflow: getComputedStyle(pre).overflowX, wider: pre.scrollWidth > pre.clientWidth};
}"""


@pytest.mark.parametrize("width", [400, 800])
def test_a_long_line_of_code_scrolls_to_its_end_instead_of_being_cut_off(page_path, reader, width):
    r = reader(page_path, width)
    line = r.page.evaluate(LINE_END)
    assert line["wider"], line  # the line is longer than the window: the case at hand
    assert line["overflow"] in ("auto", "scroll"), f"{width} px: no scrollbar on a cut-off line: {line}"
    assert line["end"] <= line["visible_right"] + 1, f"{width} px: the line's end cannot be reached: {line}"
    assert r.clean(), (r.requests, r.errors)


SNAPSHOT_BOX = """() => [...document.querySelectorAll('.tc-snapshot')].map(s => {
  const area = s.closest('.jp-OutputArea-output');
  return {right: Math.round(s.getBoundingClientRect().right),
          area_right: Math.round(area.getBoundingClientRect().right),
          area_scrolls: area.scrollWidth > area.clientWidth + 1,
          widest_chart: Math.max(...[...s.querySelectorAll('.main-svg')]
                                 .map(v => v.getBoundingClientRect().right)),
          inner_right: Math.round(s.getBoundingClientRect().right
                                  - parseFloat(getComputedStyle(s).paddingRight))};
})"""


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_an_explorer_snapshot_fits_a_phone(page_path, reader, scheme):
    r = reader(page_path, 400, scheme)
    charts = r.page.evaluate(MEASURE)
    assert len(charts) == 2 and not misfits(charts), f"400 px, {scheme}: {misfits(charts)}"
    [snap] = r.page.evaluate(SNAPSHOT_BOX)
    assert snap["right"] <= snap["area_right"] + 1 and not snap["area_scrolls"], snap
    assert snap["widest_chart"] <= snap["inner_right"] + 1, f"a chart runs past the explorer's frame: {snap}"
    assert r.page.evaluate("document.documentElement.scrollWidth") <= 400
    assert r.clean(), (r.requests, r.errors)


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_the_error_of_a_cell_that_raised_reads_in_either_theme(page_path, reader, scheme):
    r = reader(page_path, 800, scheme)
    error = r.page.locator('.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"]')
    assert error.count() == 1 and "d_k must be positive, got -1" in error.inner_text()
    assert r.page.locator(".jp-OutputArea-output", has_text="a line in olive").count() == 1
    assert r.page.evaluate(LOW_CONTRAST) == [], f"{scheme}: faint text (the traceback's)"
    # The other theme by the button (the reader's pick, not the system's): the colours follow.
    r.page.locator("nav.tc-nav-top .tc-theme-toggle").click()
    r.page.wait_for_function(
        f"() => document.body.dataset.jpThemeLight === '{str(scheme == 'dark').lower()}'"
    )
    assert r.page.evaluate(LOW_CONTRAST) == [], f"switched from {scheme}"
    assert r.clean(), (r.requests, r.errors)


# The focused element's ring: its style, width, and the contrast of its colour with the bar.
FOCUS_RING = """() => {
  const el = document.activeElement, css = getComputedStyle(el);
  const rgb = (c) => c.match(/[\\d.]+/g).slice(0, 3).map(Number);
  const lin = (v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; };
  const lum = (c) => 0.2126 * lin(c[0]) + 0.7152 * lin(c[1]) + 0.0722 * lin(c[2]);
  const page = rgb(getComputedStyle(document.body).backgroundColor), ring = rgb(css.outlineColor);
  const [a, b] = [lum(ring), lum(page)].sort((x, y) => y - x);
  return {cls: el.className, style: css.outlineStyle, width: parseFloat(css.outlineWidth),
          contrast: (a + 0.05) / (b + 0.05), focus_visible: el.matches(':focus-visible')};
}"""


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_keyboard_focus_on_the_theme_button_shows_and_the_pick_survives_a_reload(page_path, reader, scheme):
    r = reader(page_path, 800, scheme)
    for _ in range(6):  # Tab from the top of the page to the button in the chapter bar
        r.page.keyboard.press("Tab")
        if r.page.evaluate("document.activeElement.classList.contains('tc-theme-toggle')"):
            break
    ring = r.page.evaluate(FOCUS_RING)
    assert ring["cls"] == "tc-theme-toggle" and ring["focus_visible"], ring
    assert ring["style"] != "none" and ring["width"] >= 2, f"{scheme}: {ring}"
    assert ring["contrast"] >= 3, f"{scheme}: the focus ring is lost on the page: {ring}"
    r.page.keyboard.press("Enter")  # the button works from the keyboard
    flipped = "true" if scheme == "dark" else "false"
    r.page.wait_for_function(f"() => document.body.dataset.jpThemeLight === '{flipped}'")
    r.page.keyboard.press("Tab")
    r.page.keyboard.press("Shift+Tab")  # focus back on it, now in the other theme
    ring = r.page.evaluate(FOCUS_RING)
    assert ring["cls"] == "tc-theme-toggle" and ring["contrast"] >= 3, f"switched from {scheme}: {ring}"
    r.page.reload()
    r.page.wait_for_function(f"() => window.Plotly && ({MEASURE})().every(c => c.drawn)")
    assert r.page.evaluate("document.body.dataset.jpThemeLight") == flipped  # the pick holds
    paper = "white" if flipped == "true" else "rgb(17,17,17)"
    papers = r.page.evaluate(
        "[...document.querySelectorAll('.js-plotly-plot')].map(d => d._fullLayout.paper_bgcolor)"
    )
    assert papers and set(papers) == {paper}, papers
    assert r.clean(), (r.requests, r.errors)


BAR = """() => {
  const nav = document.querySelector('nav.tc-nav-top'), box = nav.getBoundingClientRect();
  const button = nav.querySelector('.tc-theme-toggle'), css = getComputedStyle(button);
  const line = parseFloat(css.lineHeight) || 1.3 * parseFloat(css.fontSize);
  const inner = parseFloat(css.paddingTop) + parseFloat(css.paddingBottom)
                + parseFloat(css.borderTopWidth) + parseFloat(css.borderBottomWidth);
  return {lines: Math.round((button.getBoundingClientRect().height - inner) / line),
          outside: [...nav.querySelectorAll('a, button')].filter(el => {
            const r = el.getBoundingClientRect();
            return r.left < box.left - 1 || r.right > box.right + 1; }).map(el => el.textContent)};
}"""


@pytest.mark.parametrize("width", [400, 800, 1280])
def test_the_chapter_bar_keeps_its_button_on_one_line_at_any_width(page_path, reader, width):
    r = reader(page_path, width)
    bar = r.page.evaluate(BAR)
    assert bar == {"lines": 1, "outside": []}, f"{width} px: {bar}"
    assert r.clean(), (r.requests, r.errors)
