"""One chapter → one self-contained HTML page: run it, make its outputs static, render.

A cell that raises does not stop the chapter: the kernel runs on (``allow_errors``), the
error stays in that cell's output, and ``execute`` returns it as a ``Failure``.
"""

from __future__ import annotations

import contextlib
import html
import json
import re
from dataclasses import dataclass
from pathlib import Path

import nbformat
from nbclient import NotebookClient

from .ansi import basic_ansi
from .charts import STATIC, chart_html, plotly_inline
from .snapshot import SNAPSHOT_CELL, SNAPSHOT_MIME, snapshot_missing

PLOTLY_MIME = "application/vnd.plotly.v1+json"
WIDGET_MIME = "application/vnd.jupyter.widget-view+json"
TEMPLATE = Path(__file__).resolve().parent / "templates" / "page.html.j2"  # extends static/offline.html.j2
# The page's theme script, in this order: what it shares with the live view (the colour swap,
# the column-label rule: widgets/view.py's VIEW_SCRIPTS), then the export's own.
EXPORT_SCRIPTS = ("theme_swap.js", "column_labels.js", "export_theme.js")
SOLUTION_TAG = "solution"
SOLUTION_LEFT_OUT = (
    "*A worked solution is hidden in this page: open the notebook in JupyterLab to see it, "
    "once you have tried.*"
)


@dataclass(frozen=True)
class Failure:
    """Something that went wrong while running a chapter: a cell that raised, or the kernel."""

    chapter: str  # the notebook's file name
    where: str  # "cell 12 (In [9])", or "kernel"
    error: str  # "ValueError: d_k must be positive"

    def __str__(self) -> str:
        return f"{self.chapter}  {self.where}: {self.error}"


def execute(
    path: Path, timeout: int = 300, *, starting: contextlib.AbstractContextManager | None = None
) -> tuple[nbformat.NotebookNode, list[Failure]]:
    """Run the notebook (cwd = its folder) with the snapshot cell appended; every cell
    runs even after one raises. Returns the static notebook and what failed.

    ``starting``: a lock held from choosing the kernel's ports until the kernel answers,
    shared by the chapters exported at once (``site``'s ``--jobs``). A port is chosen by
    asking the system for a free one, which the kernel binds only a moment later: two
    kernels started together can be handed the same port, and one of them dies before it
    answers ("Kernel died before replying to kernel_info", seen once in CI)."""
    nb = nbformat.read(path, as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell(SNAPSHOT_CELL))
    failures: list[Failure] = []
    running: list[int] = []  # index of the cell sent to the kernel last (its count may never come back)
    client = NotebookClient(
        nb,
        timeout=timeout,
        kernel_name="python3",
        allow_errors=True,
        store_widget_state=False,
        resources={"metadata": {"path": str(path.parent)}},
        on_cell_execute=lambda cell, cell_index: running.append(cell_index),
    )
    try:
        with starting if starting is not None else contextlib.nullcontext():
            client.km = client.create_kernel_manager()
            try:
                client.start_new_kernel()
                client.start_new_kernel_client()  # returns once the kernel has answered
            except Exception:
                with contextlib.suppress(Exception):  # no kernel left running; the first error counts
                    client._cleanup_kernel()  # nbclient's own shutdown, as execute() ends with
                raise
        client.execute()  # on the kernel started above; shuts it down at the end
    except Exception as err:  # a timeout or a dead kernel: keep the cells that did run
        failures = _record_stop(nb, err, path.name, running[-1] if running else None)
    snapshots = {}
    for output in nb.cells.pop().get("outputs", []):
        snapshots.update(output.get("data", {}).get(SNAPSHOT_MIME, {}))
    failures[:0] = cell_failures(nb, path.name)
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            cell.source = math_to_mathml(cell.source)
        for output in cell.get("outputs", []):
            _make_static(output, snapshots)
    nb.metadata.pop("widgets", None)
    return nb, failures


def cell_failures(nb: nbformat.NotebookNode, chapter: str) -> list[Failure]:
    """One Failure per cell whose outputs hold an error, unless the cell is tagged
    ``raises-exception`` (an error it means to show); cells are numbered from 1."""
    failures = []
    for number, cell in enumerate(nb.cells, start=1):
        if "raises-exception" in cell.get("metadata", {}).get("tags", []):
            continue
        for output in cell.get("outputs", []):
            if output.get("output_type") == "error":
                where = f"cell {number} (In [{cell.get('execution_count') or ' '}])"
                error = f"{output.get('ename', 'Error')}: {first_line(output.get('evalue', ''))}"
                failures.append(Failure(chapter, where, error.rstrip(": ")))
    return failures


def _record_stop(
    nb: nbformat.NotebookNode, err: Exception, chapter: str, running: int | None
) -> list[Failure]:
    """Show why the run stopped in the cell that was running (``cell_failures`` then
    reports it); when no cell of the chapter was running, report the kernel itself.

    ``running`` is the index of the last cell sent to the kernel: a kernel that dies at
    once may never send back that cell's execution count, so the count cannot tell."""
    message = f"{type(err).__name__}: {first_line(err)}"
    if running is None or running == len(nb.cells) - 1:  # never started, or died in the snapshot cell
        return [Failure(chapter, "kernel", message)]
    ran = [nb.cells[running]]
    error = nbformat.v4.new_output(
        "error", ename=type(err).__name__, evalue=first_line(err), traceback=[message]
    )
    ran[-1].setdefault("outputs", []).append(error)
    return []


def first_line(text) -> str:
    lines = str(text).strip().splitlines()
    return lines[0] if lines else ""


def hide_solutions(nb: nbformat.NotebookNode) -> int:
    """Replace every cell tagged ``solution`` (code and output) by a one-line note;
    returns how many were hidden. Run after ``execute``: later cells may use them."""
    hidden = 0
    for i, cell in enumerate(nb.cells):
        if SOLUTION_TAG in cell.get("metadata", {}).get("tags", []):
            note = nbformat.v4.new_markdown_cell(SOLUTION_LEFT_OUT)
            note.metadata["tags"] = ["solution-hidden"]
            nb.cells[i] = note
            hidden += 1
    return hidden


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
    if output.get("output_type") == "error":
        output["traceback"] = [basic_ansi(line) for line in output.get("traceback", [])]
    elif output.get("output_type") == "stream":
        output["text"] = basic_ansi(output.get("text", ""))
    data = output.get("data")
    if not data:
        return
    if PLOTLY_MIME in data:
        data["text/html"] = chart_html(data.pop(PLOTLY_MIME))
    if WIDGET_MIME in data:
        model_id = data.pop(WIDGET_MIME).get("model_id", "")
        data["text/html"] = snapshots.get(model_id, snapshot_missing())
        data.pop("text/plain", None)


def chapter_title(nb: nbformat.NotebookNode, default: str) -> str:
    """The first markdown heading of level 1 ("# 04 · Softmax and scaling"), else ``default``."""
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            for line in cell.source.splitlines():
                if line.startswith("# "):
                    return line[2:].strip()
    return default


def to_html(nb: nbformat.NotebookNode, title: str, nav: dict | None = None) -> str:
    """The page: the lab template with plotly.js inlined, nothing fetched, and ``nav``
    ({"index": href, "prev"/"next": {"href", "title"} or None}) above and below."""
    from nbconvert import HTMLExporter

    # The page's template extends static/offline.html.j2: its folder is on the template path.
    exporter = HTMLExporter(
        template_name="lab", template_file=str(TEMPLATE), extra_template_paths=[str(STATIC)]
    )
    resources = {
        "plotly_js": plotly_inline(),
        "metadata": {"name": title},
        "tc_nav": nav,
        **theme_resources(exporter),
    }
    body, _ = exporter.from_notebook_node(nb, resources=resources)
    return body


def theme_resources(exporter) -> dict[str, str]:
    """What the page needs to follow the reader's light or dark theme (static/export_theme.js):
    JupyterLab Dark's stylesheet, from the lab template nbconvert ships, the dark template
    and colours the live view uses (``theme_swap``, as a script's JSON: no "</" in it), the
    script itself after the colour swap and column-label rule it shares with the live view
    (``EXPORT_SCRIPTS``), and the course's own stylesheet (code colours that read on a
    projector, in either theme)."""
    from ..figures.themes import theme_swap

    env = exporter.environment
    script = "\n".join((STATIC / f).read_text(encoding="utf-8") for f in EXPORT_SCRIPTS)
    return {
        "tc_dark_css": env.loader.get_source(env, "static/theme-dark.css")[0],
        "tc_themes": json.dumps(theme_swap(), separators=(",", ":")).replace("</", "<\\/"),
        "tc_theme_js": script,
        "tc_course_css": (STATIC / "course.css").read_text(encoding="utf-8"),  # as in JupyterLab
    }
