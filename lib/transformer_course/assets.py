"""The course's pictures (``assets/`` at the top of the repository), shown inside a notebook.

Not a widget and not a figure: a file read from disk and embedded in the cell's output,
so that JupyterLab (which serves only the learner's workspace) and an exported HTML page
both show it, whatever folder the notebook runs in.

``assets/`` is the one copy. A wheel carries it inside the package as
``transformer_course/diagrams/`` (pyproject.toml maps that package to ``assets/``), so an
installed course shows the same pictures as a checkout.
"""

from __future__ import annotations

import base64
import html
from pathlib import Path

from IPython.display import HTML

from . import _validate

KINDS = {".svg": "image/svg+xml", ".png": "image/png"}


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
    """
    path = asset_path(name)
    # Checked here: int() and html.escape would fail inside ("cannot convert float NaN to integer",
    # "'NoneType' object has no attribute 'replace'"), naming neither argument.
    width = _validate.positive_int("width", width)
    _validate.text("alt", alt)
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    return HTML(
        f'<img src="data:{KINDS[path.suffix]};base64,{data}" width="{width}" alt="{html.escape(alt)}">'
    )
