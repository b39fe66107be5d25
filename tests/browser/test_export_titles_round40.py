"""Chapter 03's Q, K, V chart in the offline export, in a phone's window (400 px) and at 1280 px,
light and dark: static/export_theme.js breaks its panel titles ("Q (queries)", "K (keys)",
"V (values)") onto two lines where they run into each other, and the top line then covered the
figure's own title ("Q, K, V: 5 tokens × d<sub>k</sub> = 4"). The top margin now grows by as much
as the titles grew, in the same relayout, and the page settles (no relayout after relayout).
"""

from __future__ import annotations

import nbformat
import pytest
from transformer_course import export

from .test_export_fifth import reader, settle  # noqa: F401 (reader: a fixture)

pytestmark = [pytest.mark.browser, pytest.mark.timeout(300)]

v4 = nbformat.v4
# Chapter 03's QKVExplorer, as the chapter builds it (d_model = 8, d_k = 4).
TITLE = "Q, K, V: 5 tokens × d<sub>k</sub> = 4"
QKV = f"""import torch
from transformer_course import figures

g = torch.Generator().manual_seed(0)
q, k, v = (torch.randn(5, d, generator=g) for d in (4, 4, 8))  # d_k = 4, d_v = d_model = 8
figure = figures.qkv_figure(q, k, v, ["I'm", "playing", "with", "a", "cat"])
figure.layout.title.text = "{TITLE}"  # with its markup, as widgets.attention.maths_title draws it
figure"""

# Per chart with a title and panel titles: the title's box, each panel title's box and lines.
BOXES_JS = """() => [...document.querySelectorAll('.js-plotly-plot')]
  .filter(div => div.querySelector('.gtitle')).map(div => {
    const box = el => { const r = el.getBoundingClientRect();
      return {left: r.left, right: r.right, top: r.top, bottom: r.bottom}; };
    return {title: box(div.querySelector('.gtitle')),
            panels: [...div.querySelectorAll('g.annotation[data-index]')].map(g => ({
              ...box(g), text: g.textContent, lines: g.querySelectorAll('tspan.line').length}))};
  })"""

# What the export may change in a chart's layout: a relayout that keeps changing it is a loop.
LAYOUT_JS = """() => JSON.stringify([...document.querySelectorAll('.js-plotly-plot')].map(div => ({
  margin: div._fullLayout.margin, notes: (div.layout.annotations || []).map(a => a.text),
  title: div._fullLayout.title.font.size})))"""

# Counts the relayouts from now on, chart by chart.
COUNT_JS = """() => { window.tcRelayouts = 0;
  document.querySelectorAll('.js-plotly-plot')
    .forEach(div => div.on('plotly_relayout', () => window.tcRelayouts++)); }"""


@pytest.fixture(scope="module")
def page_path(tmp_path_factory):
    folder = tmp_path_factory.mktemp("export-titles-round40")
    nb = v4.new_notebook(cells=[v4.new_markdown_cell("# 03 · Queries, keys, values"), v4.new_code_cell(QKV)])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    source = folder / "03_qkv.ipynb"
    nbformat.write(nb, source)
    target, failures = export.export_notebook(source, folder / "html")
    assert failures == [], failures
    return target


def overlaps(a: dict, b: dict) -> bool:
    return (
        a["left"] < b["right"] - 0.5
        and b["left"] < a["right"] - 0.5
        and a["top"] < b["bottom"] - 0.5
        and b["top"] < a["bottom"] - 0.5
    )


def assert_clear(r, where: str) -> list[dict]:
    charts = r.page.evaluate(BOXES_JS)
    assert charts and all(c["panels"] for c in charts), f"{where}: no chart with panel titles: {charts}"
    for chart in charts:
        hit = [p["text"] for p in chart["panels"] if overlaps(p, chart["title"])]
        assert not hit, f"{where}: panel titles {hit} cover the figure's title: {chart}"
    return charts


def assert_steady(r, where: str) -> None:
    before = r.page.evaluate(LAYOUT_JS)
    r.page.evaluate(COUNT_JS)
    r.page.wait_for_timeout(1000)
    assert r.page.evaluate("() => window.tcRelayouts") == 0, f"{where}: still relayouting after it settled"
    assert r.page.evaluate(LAYOUT_JS) == before, f"{where}: the layout kept changing"


@pytest.mark.parametrize("scheme", ["light", "dark"])
@pytest.mark.parametrize("width", [400, 1280])
def test_panel_titles_clear_the_figures_title(page_path, reader, width, scheme):  # noqa: F811
    r = reader(page_path, width, scheme)
    settle(r)
    charts = assert_clear(r, f"{width} px, {scheme}")
    if width == 400:  # the case at hand: the titles were broken onto two lines
        assert any(p["lines"] > 1 for c in charts for p in c["panels"]), charts
    assert_steady(r, f"{width} px, {scheme}")
    assert r.clean(), (r.requests, r.errors)


def test_the_margin_comes_back_when_the_window_widens(page_path, reader):  # noqa: F811
    wide = reader(page_path, 1280)
    settle(wide)
    own = wide.page.evaluate(LAYOUT_JS)
    r = reader(page_path, 400)
    settle(r)
    assert r.page.evaluate(LAYOUT_JS) != own  # narrow: titles broken, margin grown
    r.page.set_viewport_size({"width": 1280, "height": 900})
    settle(r)
    settle(r)
    assert_clear(r, "400 → 1280 px")
    assert r.page.evaluate(LAYOUT_JS) == own, "back at 1280 px, the chart is not as it was drawn there"
    r.page.set_viewport_size({"width": 400, "height": 900})
    settle(r)
    settle(r)
    assert_clear(r, "1280 → 400 px")
    assert_steady(r, "1280 → 400 px")
