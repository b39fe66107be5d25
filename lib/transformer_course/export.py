"""Export chapters to self-contained HTML that works offline (``make html``).

Each notebook is executed in a fresh kernel, then written to one HTML file:

- plotly.js is inlined once in the page (from the plotly package: no CDN), and every
  plotly figure becomes a static, zoomable plotly chart;
- every live widget (an explorer, a slider, …) is replaced by a snapshot of its last
  state: the controls' values as text, its message, its figures and tables;
- LaTeX maths in the prose ($…$, $$…$$) is turned into MathML, which browsers draw
  themselves: nothing is fetched from the network (no require.js, no MathJax, no widget
  manager).

Usage: ``python -m transformer_course.export [CHAPTERS_DIR] [OUT_DIR] [NAME ...]``.
"""

from __future__ import annotations

import html
import re
import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

PLOTLY_MIME = "application/vnd.plotly.v1+json"
WIDGET_MIME = "application/vnd.jupyter.widget-view+json"
SNAPSHOT_MIME = "application/vnd.transformer-course.snapshots+json"
TEMPLATE = Path(__file__).with_name("static") / "offline.html.j2"

# Appended to the notebook before it runs: the last state of every widget, by model id.
SNAPSHOT_CELL = "from transformer_course import export as _tc_export\n_tc_export.display_snapshots()"


# --- inside the kernel ----------------------------------------------------------------


def figure_html(fig) -> str:
    """A plotly figure as a <div> plus the script that draws it (plotly.js not included)."""
    import plotly.io as pio

    return pio.to_html(
        fig, include_plotlyjs=False, full_html=False, validate=False, config={"displaylogo": False}
    )


def snapshot_html(widget) -> str:
    """The last state of a widget as static HTML (figures stay plotly charts)."""
    import ipywidgets as w

    from . import widgets as tcw

    if isinstance(widget, tcw.FigureView):
        return figure_html(widget.figure) if widget.figure is not None else ""
    if isinstance(widget, tcw.Explorer):
        settings = " · ".join(
            f"<b>{html.escape(c.description or name)}</b> {html.escape(str(c.value))}"
            for name, c in widget.controls.items()
        )
        views = "".join(f'<div style="min-width:0">{snapshot_html(v)}</div>' for v in widget.views.values())
        return (
            '<div class="tc-snapshot" style="border:1px solid #e5e7eb;border-radius:6px;'
            'padding:8px 12px">'
            f'<div style="color:#374151;font-size:13px">Explorer, as last shown: {settings}</div>'
            f"{widget.message.value}"
            '<div style="display:grid;grid-template-columns:repeat(auto-fit,minmax(420px,1fr));'
            f'gap:8px">{views}</div></div>'
        )
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
        return f"<div><b>{html.escape(label)}</b> {html.escape(str(widget.value))}</div>"
    return (
        '<div style="color:#6b7280;font-style:italic">(an interactive widget: open the '
        "notebook in JupyterLab to use it)</div>"
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


# --- in the exporting process ---------------------------------------------------------


def execute(path: Path, timeout: int = 300) -> nbformat.NotebookNode:
    """Run the notebook (cwd = its folder) with the snapshot cell appended."""
    nb = nbformat.read(path, as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell(SNAPSHOT_CELL))
    NotebookClient(
        nb,
        timeout=timeout,
        kernel_name="python3",
        store_widget_state=False,
        resources={"metadata": {"path": str(path.parent)}},
    ).execute()
    snapshots = {}
    for output in nb.cells.pop().get("outputs", []):
        snapshots.update(output.get("data", {}).get(SNAPSHOT_MIME, {}))
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            cell.source = math_to_mathml(cell.source)
        for output in cell.get("outputs", []):
            _make_static(output, snapshots)
    nb.metadata.pop("widgets", None)
    return nb


DISPLAY_MATH = re.compile(r"\$\$(.+?)\$\$", re.DOTALL)
INLINE_MATH = re.compile(r"(?<![\\$])\$(?!\$)([^$\n]+?)(?<!\\)\$(?!\$)")


def math_to_mathml(markdown: str) -> str:
    """Replace $$…$$ and $…$ in a markdown cell by MathML (drawn by the browser offline)."""
    from latex2mathml.converter import convert

    def render(match: re.Match, display: str) -> str:
        latex = " ".join(match.group(1).split())
        try:
            return convert(latex, display=display)
        except Exception:  # something the converter does not know: show the source
            return f"<code>{html.escape(latex)}</code>"

    markdown = DISPLAY_MATH.sub(lambda m: "\n\n" + render(m, "block") + "\n\n", markdown)
    return INLINE_MATH.sub(lambda m: render(m, "inline"), markdown)


def _make_static(output, snapshots: dict[str, str]) -> None:
    data = output.get("data")
    if not data:
        return
    if PLOTLY_MIME in data:
        import plotly.io as pio

        spec = data.pop(PLOTLY_MIME)
        data["text/html"] = pio.to_html(
            spec, include_plotlyjs=False, full_html=False, validate=False, config={"displaylogo": False}
        )
    if WIDGET_MIME in data:
        model_id = data.pop(WIDGET_MIME).get("model_id", "")
        data["text/html"] = snapshots.get(model_id, snapshot_missing())
        data.pop("text/plain", None)


def snapshot_missing() -> str:
    return (
        '<div style="color:#6b7280;font-style:italic">(an interactive widget: open the '
        "notebook in JupyterLab to use it)</div>"
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


def to_html(nb: nbformat.NotebookNode, title: str) -> str:
    from nbconvert import HTMLExporter

    exporter = HTMLExporter(template_name="lab", template_file=str(TEMPLATE))
    body, _ = exporter.from_notebook_node(
        nb, resources={"plotly_js": plotly_inline(), "metadata": {"name": title}}
    )
    return body


def export_notebook(path: Path, out_dir: Path) -> Path:
    nb = execute(path)
    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / (path.stem + ".html")
    target.write_text(to_html(nb, path.stem), encoding="utf-8")
    return target


def main(argv: list[str]) -> int:
    chapters = Path(argv[0]) if argv else Path("chapters")
    out_dir = Path(argv[1]) if len(argv) > 1 else Path("build/html")
    names = argv[2:]
    notebooks = sorted(chapters.glob("[0-9][0-9]_*.ipynb"))
    if names:
        notebooks = [p for p in notebooks if any(p.stem.startswith(n) for n in names)]
    if not notebooks:
        print(f"no chapters found in {chapters}", file=sys.stderr)
        return 1
    for path in notebooks:
        start = time.perf_counter()
        target = export_notebook(path, out_dir)
        size = target.stat().st_size / 1e6
        print(f"{target}  ({size:.1f} MB, {time.perf_counter() - start:.1f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
