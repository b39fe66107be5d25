"""More of the offline export in Chromium: what a printed chapter keeps.

On screen a chart is drawn at its box's width (1,150 px in a 1,280 px window). Printing lays
the page out again at the paper's width (about 700 px) without running any script, so the
chart kept its 1,150 px and the paper cut off its right part (title, legend, last columns);
code lines longer than the paper were cut off too. A one-chapter notebook is exported here
(seconds, not the whole course), then laid out as for print, as a printer would: the body
made as narrow as the paper within one script task, so that nothing can redraw in between.
"""

from __future__ import annotations

import json
import re

import nbformat
import pytest
from transformer_course import export
from transformer_course.export.site import Chapter

from .test_export_offline import MEASURE, misfits

pytestmark = [pytest.mark.browser, pytest.mark.timeout(300)]

v4 = nbformat.v4
PAPER = 680  # css px: A4 or Letter less the printer's margins, about
LONG_LINE = "total = 1 + 2  # " + "a comment that runs on past the right edge of a printed page, " * 3

FIGURE = """import json
import plotly.graph_objects as go
from IPython.display import display

fig = go.Figure(
    [go.Scatter(x=[0, 1, 2, 3], y=[1, 3, 2, 4], name="training loss"),
     go.Scatter(x=[0, 1, 2, 3], y=[2, 2, 3, 3], name="held-out loss")],
    layout=dict(title="A chart as wide as the screen", xaxis_title="step", yaxis_title="loss",
                width=1130, height=360),
)
display({"application/vnd.plotly.v1+json": json.loads(fig.to_json())}, raw=True)"""


@pytest.fixture(scope="module")
def page_path(tmp_path_factory):
    """A chapter with a wide chart (legend on its right) and a long line of code, exported."""
    folder = tmp_path_factory.mktemp("export-print")
    nb = v4.new_notebook(
        cells=[
            v4.new_markdown_cell("# 01 · Printing\n\nA chart and a long line."),
            v4.new_code_cell(LONG_LINE),
            v4.new_code_cell(FIGURE),
        ]
    )
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    source = folder / "01_printing.ipynb"
    nbformat.write(nb, source)
    nav = {"index": "index.html", "prev": None, "next": None}
    target, failures = export.export_notebook(source, folder / "html", nav=nav)
    assert not failures, failures
    return target


# Lay the page out at the paper's width in print media and measure, all in one task: as a
# printer does, no script (no ResizeObserver, no plotly resize) runs between the two.
PRINTED = """(paper) => {
  document.body.style.width = paper + 'px';
  const box = (el) => el ? el.getBoundingClientRect() : null;
  const charts = [...document.querySelectorAll('.js-plotly-plot')].map(div => {
    const area = box(div.closest('.jp-OutputArea-output'));
    const parts = {svg: div.querySelector('.main-svg'), title: div.querySelector('.gtitle'),
                   legend: div.querySelector('.legend'), xtitle: div.querySelector('.xtitle')};
    const out = (el) => !el || !box(el).width
                        || box(el).right > area.right + 1 || box(el).left < area.left - 1;
    const where = (el) => el ? [box(el).left, box(el).right].map(Math.round) : 'missing';
    const cut = Object.entries(parts).filter(([, el]) => out(el)).map(([name, el]) => `${name} ${where(el)}`);
    const svg = box(parts.svg), wrapper = box(div.parentElement);
    return {cut, area: [Math.round(area.left), Math.round(area.right)],
            svg: [Math.round(svg.width), Math.round(svg.height)],
            below: Math.round(wrapper.bottom - svg.bottom)};
  });
  const code = [...document.querySelectorAll('.jp-InputArea-editor pre, .jp-OutputArea-output pre')]
    .filter(pre => pre.scrollWidth > pre.clientWidth + 1).map(pre => pre.textContent.slice(0, 40));
  document.body.style.width = '';
  return {charts, code};
}"""


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_a_printed_page_keeps_each_chart_whole_and_wraps_long_code(browser, page_path, scheme):
    context = browser.new_context(viewport={"width": 1280, "height": 720}, color_scheme=scheme)
    requests: list[str] = []
    context.route(
        re.compile(r"^(?!file:|data:)"), lambda route: (requests.append(route.request.url), route.abort())
    )
    try:
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda err: errors.append(str(err)))
        page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
        page.goto(page_path.as_uri())
        page.wait_for_function(f"() => window.Plotly && ({MEASURE})().every(c => c.drawn)")
        screen = page.evaluate(MEASURE)
        assert screen and not misfits(screen), screen
        assert screen[0]["svg_w"] > PAPER + 200  # drawn for the screen, far wider than paper

        page.emulate_media(media="print")
        printed = page.evaluate(PRINTED, PAPER)
        assert printed["charts"], printed
        for chart, drawn in zip(printed["charts"], screen):
            assert not chart["cut"], f"{scheme}: printed, the chart loses {chart}"
            width, height = chart["svg"]
            aspect = drawn["svg_w"] / drawn["svg_h"]
            assert width <= PAPER and abs(width / height / aspect - 1) < 0.02, chart  # scaled, not cropped
            assert chart["below"] <= 2, f"{scheme}: printed, the chart's screen height is kept blank: {chart}"
        assert not printed["code"], f"{scheme}: printed code cut off at the paper's edge: {printed['code']}"
        pdf = page.pdf()  # Chromium's own print: it runs and makes a document
        assert pdf.startswith(b"%PDF") and len(pdf) > 10_000

        # Back on screen: the chart as before, and its hover still shows the point's values.
        page.emulate_media(media="screen")
        assert not misfits(page.evaluate(MEASURE))
        chart = page.locator(".js-plotly-plot").first
        chart.scroll_into_view_if_needed()
        point = chart.locator("g.trace .point").first
        box = point.bounding_box()
        page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
        page.wait_for_function(
            "(d) => d.querySelector('.hoverlayer .hovertext')", arg=chart.element_handle(), timeout=5_000
        )
        assert errors == [] and requests == [], json.dumps({"errors": errors, "requests": requests})
    finally:
        context.close()


# The contrast of each text's colour with white paper (print leaves the page's background out).
ON_PAPER = """() => {
  const lin = (v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; };
  const lum = (c) => { const [r, g, b] = c.match(/[\\d.]+/g).map(Number);
                       return 0.2126 * lin(r) + 0.7152 * lin(g) + 0.0722 * lin(b); };
  return [...document.querySelectorAll('h1, p, li, a')].filter(el => el.textContent.trim())
    .map(el => [el.textContent.trim().slice(0, 30), 1.05 / (lum(getComputedStyle(el).color) + 0.05)]);
}"""


def test_the_index_prints_dark_text_on_paper_in_the_dark_theme(browser, tmp_path):
    """Printed, the browser leaves the dark theme's background out: its pale text on white paper
    read at about 1.1:1. In print the index takes the light theme's colours (≥ 4.5:1)."""
    chapters = [Chapter(tmp_path / "01_printing.ipynb", "01 · Printing")]
    index = export.write_index(chapters, tmp_path, solutions=False)
    context = browser.new_context(color_scheme="dark")
    try:
        page = context.new_page()
        page.goto(index.as_uri())
        assert page.evaluate("document.documentElement.dataset.tcTheme") == "dark"
        page.emulate_media(media="print")
        low = [(text, round(ratio, 2)) for text, ratio in page.evaluate(ON_PAPER) if ratio < 4.5]
        assert not low, f"pale text on paper: {low}"
        page.emulate_media(media="screen")  # on screen the dark theme stays
        assert all(ratio < 4.5 for _, ratio in page.evaluate(ON_PAPER))
    finally:
        context.close()
