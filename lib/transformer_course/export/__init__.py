"""Export chapters to self-contained HTML that works offline (``make html``).

Each notebook is executed in a fresh kernel, then written to one HTML file:

- plotly.js is inlined once in the page (from the plotly package: no CDN), and every
  plotly figure becomes a static, zoomable plotly chart that fits its box, with a toolbar
  that offers nothing to the cloud (``PLOTLY_CONFIG``);
- every live widget (an explorer, a slider, …) is replaced by a snapshot of its last
  state: the controls' values as text, its message, its figures and tables;
- LaTeX maths in the prose ($…$, $$…$$) is turned into MathML, which browsers draw
  themselves: nothing is fetched from the network (no require.js, no MathJax, no widget
  manager);
- worked solutions (cells tagged ``solution``) are left out unless ``--solutions``;
- ``index.html`` lists the chapters, and each page links to the index and its neighbours;
- a cell that raises is shown with its error, and the command exits 1 at the end.

Usage: ``python -m transformer_course.export [CHAPTERS_DIR] [OUT_DIR] [NAME ...] [--solutions]
[--jobs N]`` (chapters run side by side, one kernel each, N at a time).

Modules: ``charts`` (plotly config and inlining), ``snapshot`` (runs inside the kernel),
``page`` (one chapter → one page), ``site`` (every chapter, index, links, the command).
"""

from .charts import PLOTLY_CONFIG, chart_html, plotly_inline
from .page import Failure, execute, hide_solutions, math_to_mathml, to_html
from .site import export_notebook, find_chapters, main, write_index
from .snapshot import display_snapshots, snapshot_html

__all__ = [
    "PLOTLY_CONFIG",
    "Failure",
    "chart_html",
    "display_snapshots",
    "execute",
    "export_notebook",
    "find_chapters",
    "hide_solutions",
    "main",
    "math_to_mathml",
    "plotly_inline",
    "snapshot_html",
    "to_html",
    "write_index",
]
