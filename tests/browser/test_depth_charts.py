"""Chapter 07's depth charts in the offline export, in a phone's window (400 px) and at 1280 px,
light and dark: the legend, a row under the plot at y=-0.2 of it, sat on the x axis's title at
400 px (five names in five rows). It now keeps its own room below the axis at every width.

Screenshots of each chart go to build/screenshots/depth_chart_<width>_<scheme>.png.
"""

from __future__ import annotations

import nbformat
import pytest
from transformer_course import export

from .lab import BUILD
from .test_export_fifth import reader, settle  # noqa: F401 (reader: a fixture)

pytestmark = [pytest.mark.browser, pytest.mark.timeout(300)]

v4 = nbformat.v4

# As chapter 07's gradient chart: its five designs, one falling over 17 powers of ten.
CHART = """import torch
from transformer_course import figures

depth = torch.arange(30, dtype=torch.float64)
grads = {"plain (no residual)": 10.0 ** (-20 + 17 * depth / 29)}
for name, level in [("plain, He init", 0.5), ("residual, no norm", 1.5), ("post-norm (paper)", 0.08),
                    ("pre-norm", 0.45)]:
    grads[name] = torch.full((30,), level)
figures.depth_figure(grads, title="Gradient reaching each of 30 stacked blocks",
                     y_title="gradient norm (log scale)")"""

# Per chart: the boxes on screen of its legend, x title, x tick labels and title.
BOXES_JS = """() => [...document.querySelectorAll('.js-plotly-plot')].map(div => {
  const box = sel => { const e = div.querySelector(sel); if (!e) return null;
    const r = e.getBoundingClientRect();
    return {left: r.left, top: r.top, right: r.right, bottom: r.bottom}; };
  return {legend: box('.legend'), xtitle: box('text.xtitle'), xticks: box('.xaxislayer-above'),
          title: box('.gtitle'), figure: box('.main-svg')};
})"""


def overlap(a: dict, b: dict | None) -> float:
    """How far two boxes reach into each other vertically, in px (0 or less: apart)."""
    across = b and a["left"] < b["right"] and b["left"] < a["right"]
    return min(a["bottom"], b["bottom"]) - max(a["top"], b["top"]) if across else 0.0


@pytest.fixture(scope="module")
def page_path(tmp_path_factory):
    folder = tmp_path_factory.mktemp("export-depth")
    nb = v4.new_notebook(cells=[v4.new_markdown_cell("# 07 · Depth"), v4.new_code_cell(CHART)])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    source = folder / "07_depth.ipynb"
    nbformat.write(nb, source)
    target, failures = export.export_notebook(source, folder / "html")
    assert failures == [], failures
    return target


@pytest.mark.parametrize("scheme", ["light", "dark"])
@pytest.mark.parametrize("width", [400, 1280])
def test_the_legend_keeps_off_the_x_axis_title(page_path, reader, width, scheme):  # noqa: F811
    r = reader(page_path, width, scheme)
    settle(r)
    shots = BUILD / "screenshots"
    shots.mkdir(parents=True, exist_ok=True)
    r.page.locator(".js-plotly-plot").first.screenshot(path=str(shots / f"depth_chart_{width}_{scheme}.png"))
    (chart,) = r.page.evaluate(BOXES_JS)
    assert chart["legend"] and chart["xtitle"], chart
    for part in ("xtitle", "xticks", "title"):
        assert overlap(chart["legend"], chart[part]) <= 0, (
            f"{width} px, {scheme}: the legend is on the {part}: {chart}"
        )
    assert chart["legend"]["bottom"] <= chart["figure"]["bottom"] + 1, (
        f"the legend runs off the chart: {chart}"
    )
    assert r.clean(), (r.requests, r.errors)
