"""A check's verdict: its status (passed, not attempted, wrong, error), its message, and how a
notebook shows it (a coloured box that reads on light and dark themes)."""

from __future__ import annotations

import html
from dataclasses import dataclass

from .wording import code_spans

PASSED, NOT_ATTEMPTED, WRONG, ERROR = "passed", "not attempted", "wrong", "error"

CHECK_COLOURS = {"passed": "#15803d", "waiting": "#6b7280", "wrong": "#b91c1c"}  # ≥ 4.8:1 on white
# JupyterLab's own colours for the same kinds, which follow its theme: the fallback where the
# course's stylesheet has not reached the page yet (it comes with the first figure shown), so a
# verdict on JupyterLab Dark still reads at 4.5:1 or more.
THEME_COLOURS = {
    "passed": "--jp-success-color0",
    "waiting": "--jp-content-font-color2",
    "wrong": "--jp-error-color1",
}


@dataclass(frozen=True)
class Result:
    status: str  # one of PASSED, NOT_ATTEMPTED, WRONG, ERROR
    message: str
    timed_out: bool = False  # the learner's function ran past LIMIT_S (an ERROR)
    warning: str = ""  # a pass's caveat, already at the end of the message (it changed its inputs)
    # A pass's note on the exercise, not on the code, also at the end of the message: right code
    # that calls the function the exercise asks the learner to write (``built_ins``).
    note: str = ""

    @property
    def passed(self) -> bool:
        return self.status == PASSED

    def __str__(self) -> str:
        return f"[{self.status}] {self.message}"

    def _repr_html_(self) -> str:
        # Colours that read on white; static/course.css gives lighter ones on a dark theme
        # (on JupyterLab Dark's #111 the red would be 2.9:1).
        kind = {PASSED: "passed", NOT_ATTEMPTED: "waiting"}.get(self.status, "wrong")
        colour = f"var(--tc-check-{kind}, var({THEME_COLOURS[kind]}, {CHECK_COLOURS[kind]}))"
        icon = {PASSED: "✔", NOT_ATTEMPTED: "…"}.get(self.status, "✘")
        return (
            f'<div class="tc-check" style="border-left:4px solid {colour};padding:6px 10px;'
            f'color:{colour}"><b>{icon} {self.status}</b>: {code_spans(html.escape(self.message))}</div>'
        )
