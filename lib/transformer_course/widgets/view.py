"""The plotly view: one figure in the page, redrawn in place when the explorer changes it.

``FigureView`` is an anywidget whose JavaScript (``static/figure_view.js``) calls
``Plotly.react`` on the same ``<div>``; the kernel sends only the figure's JSON. plotly.js
itself travels once per kernel, in the shared ``PlotlyLibrary`` (taken from the plotly
package, so the course works offline), together with the toolbar config the export uses
(``static/plotly_config.json``: zoom, pan, reset, download as PNG; nothing that shares or
uploads) and what it takes to draw a figure in JupyterLab's dark theme
(``figures.themes.theme_swap()``): the page follows JupyterLab's light/dark setting and
repaints every figure when it changes.
"""

from __future__ import annotations

import json
from pathlib import Path

import anywidget
import ipywidgets as widgets
import numpy as np
import plotly.graph_objects as go
import plotly.io as pio
import traitlets
from plotly.offline import get_plotlyjs

from ..figures.base import display_with
from ..figures.themes import theme_swap

STATIC = Path(__file__).parent.parent / "static"  # lib/transformer_course/static (package data)


# FigureView's module, in this order: what it shares with the exported pages (the colour swap,
# the column-label rule: export/page.py's EXPORT_SCRIPTS), then the view itself.
VIEW_SCRIPTS = ("theme_swap.js", "column_labels.js", "figure_view.js")


def view_js() -> str:
    """FigureView's JavaScript: the colour swap and column-label rule it shares with the
    exported pages, then the view (``VIEW_SCRIPTS``)."""
    return "\n".join((STATIC / f).read_text(encoding="utf-8") for f in VIEW_SCRIPTS)


class PlotlyLibrary(anywidget.AnyWidget):
    """plotly.js itself (from the plotly package, so it works offline), sent to the page once.

    Every FigureView points at the one instance of the kernel (``plotly_library()``); the
    first view to render in the browser evaluates it, later ones reuse it.
    """

    _esm = "export default { render() {} };"
    source = traitlets.Unicode().tag(sync=True)
    config = traitlets.Dict().tag(sync=True)  # plotly's config: the toolbar, no cloud
    themes = traitlets.Dict().tag(sync=True)  # the dark template and colours (theme_swap)
    css = traitlets.Unicode().tag(sync=True)  # static/course.css: slides readable from afar


class CourseStyle(anywidget.AnyWidget):
    """static/course.css, put on the page as soon as the kernel makes this widget: no view.

    A FigureView adds the stylesheet too (``PlotlyLibrary.css``), but only once it draws,
    and chapters 05, 07, 08 and 09 have an exercise before their first figure: a learner's
    SyntaxError there was printed in JupyterLab Light's own ANSI colours (1.6-2.7:1 on
    white) instead of the course's darker ones. The browser makes a widget's model when the
    kernel opens it, displayed or not, and anywidget calls the module's ``initialize`` then;
    ``course_style()`` runs when ``widgets`` is imported in a kernel, i.e. in each chapter's
    first code cell. Nothing is displayed: the cell, nbval and the export see no output.
    """

    _esm = """
    export default {
      initialize({ model }) {
        const css = model.get("css");
        if (!css || document.getElementById("tc-course-style")) return;
        const style = document.createElement("style");
        style.id = "tc-course-style";  // the one figure_view.js and the export use: added once
        style.textContent = css;
        document.head.appendChild(style);
      },
      render() {},
    };
    """
    css = traitlets.Unicode().tag(sync=True)


_STYLE: CourseStyle | None = None


def course_style() -> CourseStyle:
    """The kernel's one CourseStyle, made again if the last one was closed."""
    global _STYLE
    if _STYLE is None or _STYLE.comm is None:
        _STYLE = CourseStyle(css=(STATIC / "course.css").read_text(encoding="utf-8"))
    return _STYLE


def in_kernel() -> bool:
    """True inside a Jupyter kernel (a page may be listening), False in plain Python or IPython."""
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover - IPython comes with ipywidgets
        return False
    return getattr(get_ipython(), "kernel", None) is not None


_LIBRARY: PlotlyLibrary | None = None


def plotly_library() -> PlotlyLibrary:
    """The kernel's one PlotlyLibrary, made again if the last one was closed."""
    global _LIBRARY
    if _LIBRARY is None or _LIBRARY.comm is None:  # none yet, or closed
        config = json.loads((STATIC / "plotly_config.json").read_text(encoding="utf-8"))
        _LIBRARY = PlotlyLibrary(
            source=get_plotlyjs(),
            config=config,
            themes=theme_swap(),
            css=(STATIC / "course.css").read_text(encoding="utf-8"),
        )
    return _LIBRARY


def figure_json(fig: go.Figure) -> str:
    """The figure as plotly.js JSON, without re-validating it (the figure is already valid).

    Read from the figure's own validated dicts: ``to_plotly_json`` would deep-copy them and
    base64-encode every array first, two thirds of the time a widget update spends here.
    NaN (masked cells) becomes null, which plotly.js draws as a gap.
    """
    try:
        spec = {"data": fig._data, "layout": fig._layout}  # plotly's to_dict copies these
        return json.dumps(_plain(spec), allow_nan=False, separators=(",", ":"))
    except (AttributeError, TypeError, ValueError):  # another plotly, a type we do not know,
        return pio.to_json(fig, validate=False)  # or a stray NaN: plotly's encoder


def _plain(obj):
    """numpy arrays and scalars inside a figure's dict → lists and Python numbers (NaN → None)."""
    if isinstance(obj, dict):
        return {k: _plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_plain(v) for v in obj]
    if isinstance(obj, np.ndarray):
        if obj.dtype.kind == "f" and np.isnan(obj).any():
            obj = np.where(np.isnan(obj), None, obj.astype(object))
        return obj.tolist()
    if isinstance(obj, np.generic):
        return obj.item()
    return obj


class FigureView(anywidget.AnyWidget):
    """One plotly figure, redrawn in place (``Plotly.react``); ``figure`` is the one on screen."""

    _esm = view_js()
    _library = traitlets.Instance(PlotlyLibrary).tag(sync=True, **widgets.widget_serialization)
    _spec = traitlets.Unicode("").tag(sync=True)  # {"data": [...], "layout": {...}} as JSON
    _revision = traitlets.Int(0).tag(sync=True)

    def __init__(self, **kwargs):
        super().__init__(_library=plotly_library(), **kwargs)
        self.figure: go.Figure | None = None

    def show(self, fig: go.Figure, spec: str | None = None) -> None:
        """Draw ``fig`` (``spec``: its ``figure_json``, when already made)."""
        self.figure = fig
        spec = figure_json(fig) if spec is None else spec
        if spec == self._spec:  # the same picture: nothing to send or redraw
            return
        with self.hold_sync():
            self._revision += 1
            self._spec = spec


def show_figure(fig: go.Figure) -> None:
    """Display ``fig`` in a FigureView: how every course figure shows in a notebook once
    ``widgets`` is imported, so a figure of a cell, like an explorer's, follows JupyterLab's
    theme and fits the screen when presenting."""
    from IPython.display import display

    view = FigureView()
    view.show(fig)
    display(view)


display_with(show_figure)
if in_kernel():
    course_style()
