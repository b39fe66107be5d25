"""Plotly charts in an exported page: the one toolbar config, a figure's <div>, plotly.js inlined.

``PLOTLY_CONFIG`` (read from ``static/plotly_config.json``, so that the live FigureView's
JavaScript can use the very same options) keeps zoom, pan, autoscale, reset and
download-as-PNG and removes everything that reaches outside the page:

- ``showSendToCloud: false`` and ``sendChartToCloud`` removed: plotly.js 4 shows a
  "Share chart..." button by default, which uploads the chart to Plotly Cloud;
- ``editInChartStudio`` removed: the "Edit in Chart Studio" button of older plotly.js.
  plotly.js 3 (3.8.2 in plotly 7.1) dropped ``showLink``, ``sendData`` and
  ``showEditInChartStudio`` altogether, and plotly.py warns about them as unknown keys
  in every notebook cell, so they are not written here; the browser suite checks that no
  button or link of that kind is drawn, live or exported;
- ``displaylogo: false``: the plotly logo is a link to plotly.com;
- ``select2d`` / ``lasso2d`` removed: selecting points does nothing in the course;
- ``responsive: true``: the chart follows its box when the window is resized.
"""

from __future__ import annotations

import json
from pathlib import Path

STATIC = Path(__file__).resolve().parents[1] / "static"
PLOTLY_CONFIG: dict = json.loads((STATIC / "plotly_config.json").read_text(encoding="utf-8"))


def chart_html(figure) -> str:
    """A plotly figure (a ``go.Figure`` or its JSON dict) as a <div> plus the script that
    draws it; plotly.js itself is not included (see ``plotly_inline``).

    A fixed ``layout.width`` is dropped: the chart takes the width of its box (an explorer
    snapshot's column can be half the page), its height stays what the figure asks for.
    """
    import plotly.io as pio

    spec = figure.to_plotly_json() if hasattr(figure, "to_plotly_json") else dict(figure)
    layout = {k: v for k, v in (spec.get("layout") or {}).items() if k != "width"}
    spec = {**spec, "layout": {**layout, "autosize": True}}
    return pio.to_html(
        spec, include_plotlyjs=False, full_html=False, validate=False, config=dict(PLOTLY_CONFIG)
    )


def plotly_inline() -> str:
    """plotly.min.js as an inline script body that defines window.Plotly whatever else
    the page loaded (its UMD wrapper is handed a private ``module``)."""
    from plotly.offline import get_plotlyjs

    return (
        "(function () { var module = { exports: {} };\n"
        "(function (module, exports, define) {\n"
        + get_plotlyjs()
        + "\n}).call(window, module, module.exports, undefined);\n"
        "window.Plotly = module.exports; })();"
    )
