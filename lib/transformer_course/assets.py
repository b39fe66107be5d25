"""The course's pictures (``assets/`` at the top of the repository), shown inside a notebook.

Not a widget and not a figure: a file read from disk and embedded in the cell's output,
so that JupyterLab (which serves only the learner's workspace) and an exported HTML page
both show it, whatever folder the notebook runs in.

``assets/`` is the one copy. A wheel carries it inside the package as
``transformer_course/diagrams/`` (pyproject.toml maps that package to ``assets/``), so an
installed course shows the same pictures as a checkout.

An SVG comes twice, drawn for a light page and for a dark one (JupyterLab Dark, the exported
page's dark mode, a dark projector), and the page's theme picks one: the drawing's white card
and dark text were a glaring white block on a dark page. The dark drawing is the same file with
its colours swapped (``ON_DARK``), so the two cannot drift apart.
"""

from __future__ import annotations

import base64
import html
import re
from pathlib import Path

from IPython.display import HTML

from . import _validate

KINDS = {".svg": "image/svg+xml", ".png": "image/png"}

# The diagrams' colours (Tailwind's palette) on a dark page: the white card a near-black one a
# shade above JupyterLab Dark's #111111, dark text light, each pale box a deep tint of its own hue
# (pink, orange, blue, yellow, purple, green, as chapter 00's prose names them) and each outline
# and arrow a lighter shade. Every text reads at 4.5:1 or more on what it is drawn over, in both
# drawings (tests/test_looks_round46.py); a colour missing here stays as it is.
ON_DARK = {
    "#ffffff": "#1b1b1b",  # the card, the adders' circles
    "#fff": "#1b1b1b",
    "#111827": "#f3f4f6",  # text
    "#374151": "#d1d5db",  # arrows, small text
    "#4b5563": "#a3a3a3",  # shapes (B, L, d_model)
    "#6b7280": "#9ca3af",  # the residual path
    "#9ca3af": "#737373",  # a stack's outline
    "#f3f4f6": "#262626",  # a stack
    "#b91c1c": "#f87171",  # red text
    "#dc2626": "#f87171",  # the red arrow
    "#fed7aa": "#8a3b0a",  # orange: attention
    "#ea580c": "#fb923c",
    "#bfdbfe": "#1e3a8a",  # blue: feed-forward
    "#2563eb": "#60a5fa",
    "#fef9c3": "#6b5a0b",  # yellow: Add & Norm
    "#ca8a04": "#facc15",
    "#fbcfe8": "#831843",  # pink: embeddings, positional waves
    "#db2777": "#f472b6",
    "#ddd6fe": "#4c1d95",  # purple: output projection
    "#7c3aed": "#a78bfa",
    "#bbf7d0": "#14532d",  # green: softmax
    "#16a34a": "#4ade80",
}
HEX = re.compile(r"#(?:[0-9a-fA-F]{6}|[0-9a-fA-F]{3})\b")

# The page's theme picks a drawing: JupyterLab and the exported page both say
# <body data-jp-theme-light="false"> when dark. Without this style (a viewer that strips it) the
# dark drawing stays hidden by its own style attribute and the light one shows, as before.
THEME_STYLE = (
    "<style>"
    'body[data-jp-theme-light="false"] img.tc-on-light { display: none !important; }'
    'body[data-jp-theme-light="false"] img.tc-on-dark { display: inline !important; }'
    "</style>"
)


HERE = Path(__file__).resolve().parent
PLACES = (HERE / "diagrams", HERE.parents[1] / "assets")  # installed from a wheel; a checkout


def assets_folder() -> Path:
    """The folder that holds the course's diagrams: the wheel's copy, else ``assets/`` beside ``lib/``."""
    return next((folder for folder in PLACES if folder.is_dir()), PLACES[-1])


def asset_path(name: str) -> Path:
    """The path of one asset, or a ValueError naming ``name`` and the folder searched."""
    folder = assets_folder()
    path = folder / str(name)
    if path.suffix not in KINDS or not path.is_file() or path.parent != folder:
        raise ValueError(f"name must be an .svg or .png file in {folder}, got {name!r}")
    return path


def asset_image(name: str, *, width: int = 640, alt: str = "") -> HTML:
    """An SVG or PNG from the course's assets, embedded in the output as data.

    An ``<img>`` (rather than inline SVG) keeps the SVG's own styles from leaking into the page.
    An SVG comes with its dark drawing (``dark_svg``), shown instead on a dark page.
    """
    path = asset_path(name)
    # Checked here: int() and html.escape would fail inside ("cannot convert float NaN to integer",
    # "'NoneType' object has no attribute 'replace'"), naming neither argument.
    width = _validate.positive_int("width", width)
    _validate.text("alt", alt)
    kind, alt = KINDS[path.suffix], html.escape(alt)
    if path.suffix != ".svg":
        return HTML(f'<img src="{_data_url(kind, path.read_bytes())}" width="{width}" alt="{alt}">')
    light = path.read_text(encoding="utf-8")
    return HTML(
        f'<img src="{_data_url(kind, light.encode())}" width="{width}" alt="{alt}" class="tc-on-light">'
        f'<img src="{_data_url(kind, dark_svg(light).encode())}" width="{width}" alt="{alt}" '
        f'class="tc-on-dark" style="display: none">{THEME_STYLE}'
    )


def _data_url(kind: str, data: bytes) -> str:
    return f"data:{kind};base64,{base64.b64encode(data).decode('ascii')}"


def dark_svg(svg: str) -> str:
    """``svg`` (an SVG's text) drawn for a dark page: every colour of ``ON_DARK`` swapped, in one
    pass (one after another, a colour swapped in could be swapped again: #9ca3af → #737373, but
    #6b7280 → #9ca3af)."""
    if not isinstance(svg, str):
        raise ValueError(f"svg must be an SVG's text (str), got {type(svg).__name__}")
    return HEX.sub(lambda m: ON_DARK.get(m.group(0).lower(), m.group(0)), svg)
