"""Terminal colours in a chapter's printed output and tracebacks, for the offline page.

nbconvert writes a basic ANSI colour (30-37) as a class the page colours for its theme
(static/offline.html.j2), but a 256-colour or true-colour one (IPython's tracebacks use them)
as a fixed inline colour that one theme or the other cannot read. ``basic_ansi`` turns those
into the nearest basic colour.
"""

from __future__ import annotations

import re

ANSI_SGR = re.compile(r"\x1b\[([0-9;]*)m")
_CUBE = (0, 95, 135, 175, 215, 255)  # xterm's 256 colours: 16 + a 6 × 6 × 6 cube, then greys


def _xterm_rgb(n: int) -> tuple[int, int, int]:
    if n >= 232:  # the greys
        return (8 + 10 * (n - 232),) * 3
    n -= 16
    return _CUBE[n // 36], _CUBE[n // 6 % 6], _CUBE[n % 6]


def _nearest_basic(rgb: tuple[int, ...]) -> int:
    """0-7 (black, red, green, yellow, blue, magenta, cyan, white): the channels at least 60 %
    of the strongest one are on (rgb(0,135,0) green, rgb(175,135,0) yellow, rgb(95,95,175) blue);
    a grey is white or black by its lightness."""
    top = max(rgb)
    code = sum(bit for bit, channel in zip((1, 2, 4), rgb) if channel >= 0.6 * top) if top else 0
    return (7 if top >= 128 else 0) if code == 7 else code


def _basic_sgr(params: str) -> str:
    """One SGR escape's parameters with any 256-colour or true colour (38;5;N, 38;2;R;G;B and
    the backgrounds' 48;…) replaced by the nearest of the eight basic colours."""
    parts, out, i = params.split(";"), [], 0
    while i < len(parts):
        if parts[i] in ("38", "48") and i + 1 < len(parts) and parts[i + 1] in ("5", "2"):
            base = 30 if parts[i] == "38" else 40
            try:
                if parts[i + 1] == "5":
                    n = int(parts[i + 2])
                    code = (
                        base + n
                        if n < 8
                        else base + 60 + n - 8
                        if n < 16
                        else base + _nearest_basic(_xterm_rgb(n))
                    )
                    i += 3
                else:
                    code = base + _nearest_basic(tuple(int(v) for v in parts[i + 2 : i + 5]))
                    i += 5
            except (IndexError, ValueError):  # malformed: leave the rest as it was
                out.extend(parts[i:])
                break
            out.append(str(code))
        else:
            out.append(parts[i])
            i += 1
    return ";".join(out)


def basic_ansi(text: str) -> str:
    """``text`` with its 256-colour and true-colour escapes turned into the eight basic ones.

    IPython colours the code lines of a traceback with 256-colour escapes (a keyword is
    ``38;5;28``), which nbconvert writes as a fixed inline colour (rgb(0,135,0): 3.7:1 on the
    light theme's pink error box, 2.9:1 on the dark one's). A basic colour becomes a class
    (``ansi-green-fg``) that the page colours for the theme it is shown in (offline.html.j2)."""
    return ANSI_SGR.sub(lambda m: f"\x1b[{_basic_sgr(m.group(1))}m", text)
