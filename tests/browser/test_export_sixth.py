"""The offline export keeps a log axis's labels: its label thinning measured the gap between
two labels in the axis's own values while a log axis's range is in powers of ten, so chapter
00's nine labels from 1 down to 0.005 were thinned to one ("0.005"), at 1280 px as at 400.
A displayed formula wider than a phone's window scrolls inside its cell: chapter 02's encoding
lost its cosine half past the edge, with no way to reach it."""

from __future__ import annotations

import nbformat
import pytest
from transformer_course import export

from .test_export_fifth import reader, settle  # noqa: F401 (reader: a fixture)

pytestmark = [pytest.mark.browser, pytest.mark.timeout(300)]

v4 = nbformat.v4
# Chapter 00's first explorer: 0.9 to the power t, on a log axis labelled 1, 0.5, 0.2 … 0.005.
POWERS = "from transformer_course import widgets\n\nwidgets.RepeatedProductExplorer(factor=0.9, steps=50)"

# Chapter 02's positional encoding, displayed: wider than a 400 px window.
FORMULA = r"""$$PE(pos, 2i) = \sin\!\left(\frac{pos}{10000^{2i/d_{model}}}\right) \qquad
PE(pos, 2i+1) = \cos\!\left(\frac{pos}{10000^{2i/d_{model}}}\right)$$"""

# Each displayed formula: how wide it is, how wide its box, whether that box scrolls.
FORMULAS_JS = """() => [...document.querySelectorAll('math[display="block"]')].map(m => ({
  wide: m.scrollWidth, box: m.clientWidth, scrolls: getComputedStyle(m).overflowX === 'auto'}))"""

# Per chart: its y axis's labels as drawn, and those the figure asked for inside its range.
Y_TICKS_JS = """() => [...document.querySelectorAll('.js-plotly-plot')].map(div => {
  const y = div.layout.yaxis, own = (div._tcTicks || {}).yaxis || {vals: y.tickvals, text: y.ticktext};
  const axis = div._fullLayout.yaxis, [lo, hi] = [...axis.range].sort((a, b) => a - b);
  const at = axis.type === 'log' ? Math.log10 : (v => v);
  const asked = (own.text || []).filter((_, i) => at(own.vals[i]) >= lo && at(own.vals[i]) <= hi);
  return {drawn: [...div.querySelectorAll('.ytick text')].map(t => t.textContent.trim()).filter(Boolean),
          asked, log: axis.type === 'log'};
})"""


@pytest.fixture(scope="module")
def page_path(tmp_path_factory):
    folder = tmp_path_factory.mktemp("export-sixth")
    cells = [v4.new_markdown_cell("# 00 · Log axes"), v4.new_code_cell(POWERS), v4.new_markdown_cell(FORMULA)]
    nb = v4.new_notebook(cells=cells)
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    source = folder / "00_log.ipynb"
    nbformat.write(nb, source)
    target, failures = export.export_notebook(source, folder / "html")
    assert failures == [], failures
    return target


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_a_log_axis_keeps_the_labels_it_has_room_for(page_path, reader, scheme):  # noqa: F811
    r = reader(page_path, 1280, scheme)
    settle(r)
    charts = [c for c in r.page.evaluate(Y_TICKS_JS) if c["log"]]
    assert charts, "no log axis on the page"
    for chart in charts:
        assert len(chart["asked"]) >= 5, chart  # the case at hand: many labels asked for
        assert chart["drawn"] == list(chart["asked"]), f"1280 px, {scheme}: labels dropped: {chart}"
    assert r.clean(), (r.requests, r.errors)


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_a_formula_wider_than_a_phones_window_scrolls_to_its_end(page_path, reader, scheme):  # noqa: F811
    r = reader(page_path, 400, scheme)
    formulas = r.page.evaluate(FORMULAS_JS)
    assert formulas and formulas[0]["wide"] > formulas[0]["box"], f"the case at hand: too wide: {formulas}"
    cut = [f for f in formulas if f["wide"] > f["box"] and not f["scrolls"]]
    assert not cut, f"400 px, {scheme}: cut off: {formulas}"
    assert r.page.evaluate("document.documentElement.scrollWidth") <= 400, "the page scrolls sideways"
