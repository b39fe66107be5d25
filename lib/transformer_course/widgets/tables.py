"""HTML tables shown in explorers' "html" views: tokens and ids, a padded batch, shapes.

JupyterLab's widget CSS sets no padding on table cells, so each table styles its own.
Colours are JupyterLab's CSS variables, so a table reads as well in the dark theme as in
the light one (text ≥ 4.5:1 on its row, checked in tests/browser/test_theme.py); the
fallbacks after the commas are for pages without JupyterLab's CSS.
"""

from __future__ import annotations

import html
import numbers

import torch

from .. import _validate

# A highlighted row: JupyterLab's own "row under the pointer" background, its text colour.
HIGHLIGHT = (
    ' class="tc-highlight" style="font-weight:600;color:var(--jp-ui-font-color1,#111827);'
    'background:var(--jp-rendermime-table-row-hover-background,#dbeafe)"'
)
BORDER = "var(--jp-border-color2,#e5e7eb)"
RULE = "var(--jp-border-color1,#9ca3af)"
SMALL = "var(--jp-widgets-font-size,13px)"  # larger in a slideshow


def token_table(tokens: list[str], ids: torch.Tensor) -> str:
    """HTML table: position, token, id (the text → tokens → ids step); ``ids``: one per token."""
    tokens = _validate.strings("tokens", tokens, "tokens")
    ids = _token_ids(ids, len(tokens))
    pad = 'style="padding:2px 12px;text-align:left"'
    cells = "".join(
        f"<tr><td {pad}>{i}</td><td {pad}><code>{html.escape(t)}</code></td><td {pad}>{int(j)}</td></tr>"
        for i, (t, j) in enumerate(zip(tokens, ids, strict=True))
    )
    return (
        '<table class="tc-tokens" style="border-collapse:collapse">'
        f"<tr><th {pad}>position</th><th {pad}>token</th><th {pad}>id</th></tr>" + cells + "</table>"
    )


def _token_ids(ids: object, n: int) -> list[int]:
    """``ids`` of ``token_table`` checked by name: one integer id per token, a 1-D tensor of ints
    or a list of them. A float id was cut to an int without a word (1.7 showed as 1), a (T, 1)
    tensor failed as "only one element tensors can be converted", a str as "invalid literal"."""
    if isinstance(ids, torch.Tensor):
        ids = _validate.tensor("ids", ids, ndim=1, floating=False).tolist()
    if isinstance(ids, str) or not hasattr(ids, "__len__") or len(ids) != n:
        listed = hasattr(ids, "__len__") and not isinstance(ids, str)
        got = f"{len(ids)} ids" if listed else type(ids).__name__
        raise ValueError(f"ids must hold one id per token ({n}), got {got}")
    odd = [j for j in ids if isinstance(j, bool) or not isinstance(j, numbers.Integral)]
    if odd:
        raise ValueError(f"ids must hold integer ids, got {_validate.shown(odd[0])}")
    return [int(j) for j in ids]


def batch_table(rows: list[list[str]], picked: int) -> str:
    """HTML table of a padded batch, one sentence per row; <pad> greyed, the picked row bold."""
    if not isinstance(rows, list | tuple):
        raise ValueError(f"rows must be a list of token lists, got {type(rows).__name__}")
    rows = [_validate.strings(f"rows[{b}]", row, "tokens") for b, row in enumerate(rows)]
    picked = _validate.position("picked", picked, len(rows))

    def cell(tok: str, b: int) -> str:
        style = "color:var(--jp-ui-font-color2,#6b7280)" if tok == "<pad>" and b != picked else ""
        return f'<td style="padding:2px 6px;{style}"><code>{html.escape(tok)}</code></td>'

    body = "".join(
        f"<tr{HIGHLIGHT if b == picked else ''}><td>{b}</td>{''.join(cell(t, b) for t in row)}</tr>"
        for b, row in enumerate(rows)
    )
    return (
        '<table class="tc-batch" style="border-collapse:collapse">'
        "<tr><th>sentence</th><th colspan=99>tokens (padded to the longest)</th></tr>" + body + "</table>"
    )


def shapes_table(rows: list[tuple[str, tuple, str]], highlight: str = "") -> str:
    """HTML table of (stage, shape, meaning) rows; rows whose stage starts with ``highlight`` are bold."""
    rows = _shape_rows(rows)
    highlight = _validate.text("highlight", highlight)
    td = f'<td style="padding:3px 8px;text-align:left;border-bottom:1px solid {BORDER}">'
    th = f'<th style="padding:3px 8px;text-align:left;border-bottom:2px solid {RULE}">'
    cells = []
    for stage, shape, meaning in rows:
        bold = highlight and stage.startswith(highlight)
        style = HIGHLIGHT if bold else ""
        shape_td = td.replace('">', ';white-space:nowrap">')
        # On the code too: JupyterLab's rendered HTML sets code to pre-wrap, which beat the cell's
        # nowrap, so in a phone's window a shape broke after its commas ("(1," over "7)").
        cells.append(
            f'<tr{style}>{td}{html.escape(stage)}</td>{shape_td}<code style="white-space:nowrap">'
            f"{html.escape(str(tuple(shape)))}</code></td>{td}{html.escape(meaning)}</td></tr>"
        )
    return (
        f'<table class="tc-shapes" style="border-collapse:collapse;font-size:{SMALL};line-height:1.3">'
        f"<tr>{th}stage</th>{th}shape</th>{th}what it holds</th></tr>" + "".join(cells) + "</table>"
    )


def _shape_rows(rows: object) -> list[tuple[str, tuple, str]]:
    """``rows`` checked by name: a list of (stage str, shape, meaning str), as ``model.shape_trace``
    gives them (a str or None fails below as "not enough values to unpack")."""
    if isinstance(rows, str) or not isinstance(rows, list | tuple):
        raise ValueError(f"rows must be a list of (stage, shape, meaning) tuples, got {type(rows).__name__}")
    for i, row in enumerate(rows):
        ok = isinstance(row, tuple | list) and len(row) == 3
        if not ok or not (
            isinstance(row[0], str) and isinstance(row[1], tuple | list) and isinstance(row[2], str)
        ):
            raise ValueError(f"rows[{i}] must be a (stage str, shape, meaning str) tuple, got {row!r}")
    return list(rows)
