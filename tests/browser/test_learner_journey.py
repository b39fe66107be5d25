"""A learner's way through chapter 03's "your turn" cell in JupyterLab, as they type it.

Run All with the exercise as given: the chapter runs to the end, and the only verdict on the
page is the exercise's own "not attempted" (the worked solution's cell, folded, once showed
a green "passed" right under it). Then, in the exercise cell: a wrong answer (the scores
divided by √d_k, chapter 04's step), a right one, and a syntax error, each run with
Shift+Enter as a learner does (the exercise cell, then its check cell). The checker's
verdict must show in the check cell's output, name the mistake, read at 4.5:1 on the light
and the dark theme, and come with no traceback. Last, a right answer that passed, then the
same cell broken (a bracket left open, so the name keeps the right answer): the check must
refuse to judge the old function, say the cell stopped with SyntaxError and what to do, and
pass again once the cell is mended. Screenshots of each step go to
build/screenshots/journey-03-*.png.
"""

from __future__ import annotations

import math
import time

import pytest
import torch
from IPython.core.interactiveshell import InteractiveShell
from traitlets.config import Config
from transformer_course import checks

from .lab import BUILD, EXECUTED_JS, KERNEL_IDLE, open_notebook, run_all, shutdown_kernels, wait_executed
from .test_theme import set_theme

pytestmark = pytest.mark.browser

NOTEBOOK = "03_queries_keys_values.ipynb"
EXERCISE = "def my_attention_scores"
CHECK = "checks.check_attention_scores(my_attention_scores)"
SHOTS = BUILD / "screenshots"
AA = 4.5
VERDICT = ".tc-check, .tc-check *"  # checks.Result's box
STDERR = ".jp-OutputArea-output[data-mime-type*='stderr'] pre"
ERROR_TEXT = f"{STDERR}, {STDERR} *"  # an error's text, and its coloured parts

# What a learner types. The wrong answer reads ahead to chapter 04 and scales the scores.
WRONG = "def my_attention_scores(q, k):\n    return q @ k.T / math.sqrt(k.shape[-1])\n"
RIGHT = "def my_attention_scores(q, k):\n    return q @ k.transpose(-2, -1)\n"
STARTER = "def my_attention_scores(q, k):\n    raise NotImplementedError\n"  # as the chapter gives it
BROKEN = "def my_attention_scores(q, k):\n    return q @ k.transpose(-2, -1\n"  # a bracket left open

# Outputs of a cell (found by a line of its code): mime type and text (textContent: a cell
# scrolled out of view has no innerText).
OUTPUTS_JS = """(code) => {
  const cell = [...document.querySelectorAll('.jp-CodeCell')].find(
      c => (c.querySelector('.cm-content')?.textContent || '').includes(code));
  return [...cell.querySelectorAll('.jp-OutputArea-output')]
      .map(o => ({mime: o.dataset.mimeType || '', text: o.textContent}));
}"""

# Contrast (WCAG 2) of the text of each element ``selector`` finds (and of its descendants)
# against the backgrounds behind it, composited.
CONTRAST_JS = """(selector) => {
  const parse = s => { const m = s.match(/rgba?\\(([^)]+)\\)/); if (!m) return null;
    const p = m[1].split(/[ ,\\/]+/).filter(Boolean).map(Number);
    return {r: p[0], g: p[1], b: p[2], a: p.length > 3 ? p[3] : 1}; };
  const over = (t, b) => ({r: t.r * t.a + b.r * (1 - t.a), g: t.g * t.a + b.g * (1 - t.a),
                           b: t.b * t.a + b.b * (1 - t.a), a: 1});
  const lin = v => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; };
  const lum = c => 0.2126 * lin(c.r) + 0.7152 * lin(c.g) + 0.0722 * lin(c.b);
  const behind = el => { const layers = [];
    for (let e = el; e; e = e.parentElement) { const c = parse(getComputedStyle(e).backgroundColor);
      if (c && c.a > 0) { layers.push(c); if (c.a >= 1) break; } }
    return layers.reverse().reduce((acc, c) => over(c, acc), {r: 255, g: 255, b: 255, a: 1}); };
  return [...document.querySelectorAll(selector)].filter(el => el.textContent.trim()).map(el => {
    const bg = behind(el), fg = over(parse(getComputedStyle(el).color), bg);
    const [x, y] = [lum(fg), lum(bg)].sort((p, q) => q - p);
    return {text: el.textContent.trim().slice(0, 40), ratio: (x + 0.05) / (y + 0.05)}; });
}"""


def expected(answer: str) -> checks.Result:
    """The checker's verdict on ``answer``, computed here: what the page must show."""
    space = {"math": math, "torch": torch}
    exec(answer, space)
    return checks.check_attention_scores(space["my_attention_scores"])


def outputs(page, code: str) -> list[dict]:
    return page.evaluate(OUTPUTS_JS, code)


def prompt_of(page, code: str) -> str:
    return cell_of(page, code).locator(".jp-InputPrompt").first.inner_text()


def cell_of(page, code: str):
    return page.locator(".jp-CodeCell", has=page.locator(".cm-content", has_text=code)).first


def type_and_run(page, answer: str) -> None:
    """Replace the exercise cell's code with ``answer``, then Shift+Enter twice: the exercise
    cell and its check cell. Returns once the check cell has run again and the kernel is idle."""
    before = prompt_of(page, CHECK)
    cell = cell_of(page, EXERCISE)
    cell.scroll_into_view_if_needed()
    cell.locator(".cm-content").click()
    page.keyboard.press("Control+a")
    page.keyboard.press("Delete")
    page.keyboard.insert_text(answer)  # as pasted: the editor adds no indent or bracket of its own
    page.keyboard.press("Shift+Enter")
    page.keyboard.press("Shift+Enter")
    wait_check_ran(page, before)


def run_check_again(page) -> None:
    """Run the check cell alone, in place (Ctrl+Enter), as a learner does to try it once more."""
    before = prompt_of(page, CHECK)
    cell_of(page, CHECK).locator(".cm-content").click()
    page.keyboard.press("Control+Enter")
    wait_check_ran(page, before)


def wait_check_ran(page, before: str) -> None:
    """Waits until the check cell's prompt is no longer ``before`` and the kernel is idle, then
    puts the exercise cell at the top of the window (its check cell below it)."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        state = page.evaluate(EXECUTED_JS)
        ran = prompt_of(page, CHECK) not in (before, "[*]:")
        if ran and state["pending"] == 0 and page.get_by_text(KERNEL_IDLE).count():
            cell_of(page, EXERCISE).evaluate("c => c.scrollIntoView({block: 'start'})")
            return
        time.sleep(0.2)
    raise AssertionError(f"the check cell did not run again within 30 s (prompt {prompt_of(page, CHECK)})")


def shot(page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"journey-03-{name}.png"))


def assert_readable(page, selector: str, step: str) -> None:
    """The text ``selector`` finds reads at 4.5:1 on the light theme and on the dark one; a
    screenshot of each, ``step``-light and ``step``-dark."""
    for theme, light in (("JupyterLab Light", True), ("JupyterLab Dark", False)):
        set_theme(page, theme, light)
        shot(page, f"{step}-{'light' if light else 'dark'}")
        measured = page.evaluate(CONTRAST_JS, selector)
        assert measured, f"{theme}: no text of {selector!r} on the page to measure"
        low = min(measured, key=lambda m: m["ratio"])
        assert low["ratio"] >= AA, f"{theme}: {low['text']!r} at {low['ratio']:.2f}:1"
    set_theme(page, "JupyterLab Light", True)


def assert_no_traceback(cells: list[list[dict]]) -> None:
    for out in (o for cell in cells for o in cell):
        assert "Traceback" not in out["text"] and "stderr" not in out["mime"], out["text"][:800]


@pytest.fixture(scope="module")
def page(lab, browser):
    """Chapter 03 after Run All, the exercise left as given."""
    page = browser.new_page(viewport={"width": 1280, "height": 800})
    try:
        open_notebook(page, lab, NOTEBOOK)
        run_all(page)
        wait_executed(page)  # every cell ran: none raised, none was left behind
        yield page
    finally:
        if page.evaluate("document.body.dataset.jpThemeLight") == "false":
            set_theme(page, "JupyterLab Light", True)  # the lab's settings outlive the page
        page.close()
        shutdown_kernels(lab)


def test_run_all_with_the_exercise_as_given_shows_only_not_attempted(page):
    want = expected(STARTER)
    assert want.status == checks.NOT_ATTEMPTED
    verdict = outputs(page, CHECK)
    # The message's `code` is drawn as code, without its backticks.
    assert [o["text"].strip() for o in verdict] == [f"… not attempted: {want.message.replace('`', '')}"], (
        verdict
    )
    shown = page.locator(".tc-check").all_text_contents()
    # The worked solution's cell is folded: a "passed" under it reads as the learner's own.
    assert len(shown) == 1 and "not attempted" in shown[0], shown


def test_a_wrong_answer_gets_its_hint_readable_in_both_themes(page):
    type_and_run(page, WRONG)
    want = expected(WRONG)
    assert want.status == checks.WRONG
    shown = outputs(page, CHECK)
    assert [o["text"].strip() for o in shown] == [f"✘ wrong: {want.message}"], shown
    assert "√d_k" in want.message  # the hint names what was done: chapter 04's scaling
    assert_no_traceback([outputs(page, EXERCISE), shown])
    assert_readable(page, VERDICT, "wrong")


def test_a_right_answer_passes(page):
    type_and_run(page, RIGHT)
    want = expected(RIGHT)
    assert want.passed
    shown = outputs(page, CHECK)
    assert [o["text"].strip() for o in shown] == [f"✔ passed: {want.message}"], shown
    assert_no_traceback([outputs(page, EXERCISE), shown])
    shot(page, "right")


def test_a_syntax_error_shows_where_without_a_traceback(page):
    type_and_run(page, BROKEN)
    shown = outputs(page, EXERCISE)
    assert len(shown) == 1 and "SyntaxError" in shown[0]["text"], shown
    text = shown[0]["text"]
    assert "Traceback" not in text and "line 2" in text, text  # the line with the open bracket
    # JupyterLab's own colours for "Cell In[5], line 2" read at 1.6:1 on its pink error box.
    assert_readable(page, ERROR_TEXT, "syntax-error")


def expected_in_a_shell(*cells: str) -> checks.Result:
    """The verdict of the check cell run after ``cells`` in a real IPython shell, as the
    kernel runs them: what the page must show when a cell stopped with an error."""
    config = Config()
    config.HistoryManager.hist_file = ":memory:"  # nothing written to ~/.ipython
    shell = InteractiveShell.instance(config=config)
    try:
        shell.user_ns.update(checks=checks, math=math, torch=torch)
        for cell in (*cells, f"verdict = {CHECK}"):
            shell.run_cell(cell, store_history=True)
        return shell.user_ns["verdict"]
    finally:
        InteractiveShell.clear_instance()  # get_ipython() is None again for expected()


def test_a_check_after_the_cell_broke_again_refuses_the_old_answer(page):
    # A right answer passes; the same cell with a bracket left open defines nothing, so the
    # name still holds the right answer: the check must say the cell failed, not "passed".
    type_and_run(page, RIGHT)
    assert outputs(page, CHECK)[0]["text"].strip().startswith("✔ passed")
    type_and_run(page, BROKEN)
    assert "SyntaxError" in outputs(page, EXERCISE)[0]["text"]
    # The kernel may abort the check queued behind the failed cell (stop on error): then the
    # check cell shows nothing. Either way, never the "passed" of the run before.
    assert not any("passed" in o["text"] for o in outputs(page, CHECK)), outputs(page, CHECK)
    want = expected_in_a_shell(RIGHT, BROKEN)
    assert want.status == checks.ERROR and "my_attention_scores stopped with SyntaxError" in want.message
    refusal = [f"✘ error: {want.message}"]
    for _ in range(2):  # the check alone, and once more: cells run in between change nothing
        run_check_again(page)
        shown = outputs(page, CHECK)
        assert [o["text"].strip() for o in shown] == refusal, shown
    assert "passed" not in shown[0]["text"] and "Mend that cell and run it" in shown[0]["text"]
    assert_no_traceback([shown])
    assert_readable(page, VERDICT, "stale")
    type_and_run(page, RIGHT)  # mended
    shown = outputs(page, CHECK)
    assert [o["text"].strip() for o in shown] == [f"✔ passed: {expected(RIGHT).message}"], shown
