"""Inside the kernel: the last state of every live widget, as static HTML.

The exporter appends ``SNAPSHOT_CELL`` to the notebook it runs; that cell displays
{model id: snapshot HTML} under ``SNAPSHOT_MIME``, and the exporter puts each snapshot
where its widget was displayed.
"""

from __future__ import annotations

import html

from .charts import chart_html

SNAPSHOT_MIME = "application/vnd.transformer-course.snapshots+json"
SNAPSHOT_CELL = "from transformer_course import export as _tc_export\n_tc_export.display_snapshots()"

# An explorer's views side by side when there is room, one under the other otherwise; a
# column is never wider than the explorer (min(420px, 100%)): in a phone's 400 px window a
# 420 px column ran past the explorer's frame and cut off the right of every chart in it.
_VIEWS_GRID = "display:grid;grid-template-columns:repeat(auto-fit,minmax(min(420px,100%),1fr));gap:8px"


def snapshot_missing() -> str:
    return (
        '<div style="color:var(--jp-ui-font-color2,#6b7280);font-style:italic">'
        "(an interactive widget: open the notebook in JupyterLab to use it)</div>"
    )


def snapshot_html(widget) -> str:
    """The last state of a widget as static HTML (figures stay plotly charts)."""
    import ipywidgets as w

    from .. import widgets as tcw

    if isinstance(widget, tcw.FigureView):
        return chart_html(widget.figure) if widget.figure is not None else ""
    if isinstance(widget, tcw.Explorer):
        return _explorer_html(widget)
    if isinstance(widget, (w.FloatProgress, w.IntProgress)):
        return (
            f'<progress value="{widget.value}" max="{widget.max}" '
            'style="width:200px;vertical-align:middle"></progress>'
        )
    if isinstance(widget, w.Box):
        direction = "column" if isinstance(widget, w.VBox) else "row"
        return (
            f'<div style="display:flex;flex-direction:{direction};flex-wrap:wrap;gap:8px">'
            + "".join(snapshot_html(child) for child in widget.children)
            + "</div>"
        )
    if isinstance(widget, (w.HTML, w.HTMLMath)):
        return widget.value
    if isinstance(widget, w.Output):
        return ""  # its outputs were shown by the cells that produced them
    if hasattr(widget, "value"):
        label = getattr(widget, "description", "") or type(widget).__name__
        return f"<div><b>{html.escape(label)}</b> {html.escape(_shown(widget.value))}</div>"
    return snapshot_missing()


def _shown(value: object) -> str:
    """A control's value as words: a checkbox's True and False read "on" and "off" (a page
    that printed "log scale False" showed Python, not the switch the learner saw)."""
    if isinstance(value, bool):
        return "on" if value else "off"
    return str(value)


def _wide(view) -> str:
    classes = getattr(view, "_dom_classes", ())
    return ";grid-column:1/-1" if {"tc-wide", "tc-wide-on-page"} & set(classes) else ""


def _view_class(view) -> str:
    """tc-wide-in-two kept: course.css gives such a view a row of its own where the grid has two
    columns (a 1280 px page), as it does in JupyterLab."""
    return ' class="tc-wide-in-two"' if "tc-wide-in-two" in getattr(view, "_dom_classes", ()) else ""


def _explorer_html(explorer) -> str:
    """Its settings written out, its message, and its views in a grid."""
    # A list's label as the learner saw it ("1" for a head counted from 1), not its value (0).
    settings = " · ".join(
        f"<b>{html.escape(c.description or name)}</b> {html.escape(_shown(getattr(c, 'label', c.value)))}"
        for name, c in explorer.controls.items()
    )
    # min-width:0 lets a grid cell be narrower than a chart's first drawing; a view marked
    # wide (tc-wide, tc-wide-on-page) takes a row of its own, as on the page. A view wider than
    # its column (chapter 06's table of the batch, 462 px in a phone's 328) scrolls sideways:
    # it ran past the explorer's frame, which cut off its last columns.
    views = "".join(
        f'<div{_view_class(v)} style="min-width:0;overflow-x:auto{_wide(v)}">{snapshot_html(v)}</div>'
        for v in explorer.views.values()
    )
    return (
        '<div class="tc-snapshot" style="border:1px solid var(--jp-border-color2,#e5e7eb);border-radius:6px;'
        'padding:8px 12px">'
        '<div style="color:var(--jp-ui-font-color1,#374151);font-size:13px">'
        f"Explorer, as last shown: {settings}</div>"
        f'{explorer.message.value}<div class="tc-snapshot-views" style="{_VIEWS_GRID}">{views}</div></div>'
    )


def display_snapshots() -> None:
    """Display {model_id: snapshot HTML} for every live widget of the kernel."""
    from IPython.display import display
    from ipywidgets.widgets.widget import _instances

    snapshots = {}
    for model_id, widget in list(_instances.items()):
        try:
            snapshots[model_id] = snapshot_html(widget)
        except Exception as err:  # one odd widget must not lose the whole export
            snapshots[model_id] = f"<pre>(snapshot failed: {html.escape(repr(err))})</pre>"
    display({SNAPSHOT_MIME: snapshots}, raw=True)
