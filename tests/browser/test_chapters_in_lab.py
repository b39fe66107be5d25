"""Every chapter in JupyterLab in a real browser: Run All, no errors, every widget drawn,
every control of every explorer moves its figure; timings and a screenshot per chapter.

Chapters are found by globbing chapters/NN_*.ipynb, so new chapters are covered as
they arrive.
"""

from __future__ import annotations

import os
import statistics

import pytest

from .lab import (
    BUILD,
    CHAPTERS,
    CLIPPED_JS,
    CONTROLS,
    ERRORS_JS,
    FIGURES_JS,
    REPAINTED_JS,
    open_notebook,
    run_all,
    shutdown_kernels,
    wait_executed,
)

pytestmark = pytest.mark.browser

NOTEBOOKS = sorted(CHAPTERS.glob("[0-9][0-9]_*.ipynb"))
# Chapter 09 is run and driven on the one page test_chapter09_once.py executes it on.
LAB_RUN = [p for p in NOTEBOOKS if not p.stem.startswith("09_")]
WINDOW = {"width": 1500, "height": 1000}
SHOTS = BUILD / "screenshots"
SLIDER_PRESSES = 3  # key presses per slider (each one timed)
OTHER_CHANGES = 2  # changes of any other control: there and back (each one timed)
# Each chapter's median, key press or click → figure repainted, is measured and written to
# build/browser-latency.json with the load average beside it (the README's table comes from
# there). A timing depends on what else the machine is doing, so it fails the suite only when
# asked: TC_REPAINT_GOAL_MS=100 (the course's goal) on a quiet machine.
REPAINT_GOAL_MS = float(os.environ["TC_REPAINT_GOAL_MS"]) if os.environ.get("TC_REPAINT_GOAL_MS") else None
# Latency is timed from the learner's first input event (key, pointer, input, change) on
# the page, not from when the test started driving: Playwright's own round trips
# (focus, attribute reads) before the key press are not part of what a learner waits for.
INPUT_HOOK = """() => { if (window.__tcInputHook) return; window.__tcInputHook = true;
  for (const type of ["keydown", "pointerdown", "input", "change"])
    document.addEventListener(type, () => { window.__tcFirstInput ??= performance.now(); }, true); }"""


# Resolves once the page has drawn two frames and its main thread has gone idle.
SETTLED_JS = """() => new Promise(resolve => requestAnimationFrame(() => requestAnimationFrame(
    () => requestIdleCallback(() => resolve(), {timeout: 3000}))))"""


def figures_of(explorer):
    return explorer.evaluate(FIGURES_JS)


def wait_repaint(page, explorer, before, timeout_s=30.0, settle_s=2.0):
    """Wait until a figure of ``explorer`` has a newer revision, nothing is still drawing and
    the kernel is idle. Returns the figures' state then, or None when the kernel has been
    idle for ``settle_s`` without any figure being redrawn (the control changed nothing).

    The page waits by itself (REPAINTED_JS) and answers once: polling it from here, a call
    every 20 ms through Playwright's driver, kept two processes and the page's main thread
    busy on a two-core machine while the very repaint being timed was drawing.

    ``explorer``: a Locator or an ElementHandle."""
    handle = explorer.element_handle() if hasattr(explorer, "element_handle") else explorer
    revisions = [b["revision"] for b in before]
    outcome = handle.evaluate(REPAINTED_JS, [revisions, settle_s * 1000, timeout_s * 1000])
    if outcome == "timeout":
        raise AssertionError(f"the kernel was still busy after {timeout_s} s")
    return figures_of(handle) if outcome == "repainted" else None


def focus(page, element) -> None:
    """Put the keyboard in ``element`` and let the page settle, as a learner clicks into a box
    or onto a slider before typing: JupyterLab makes the cell active on focus (toolbar and
    status bar redrawn), work that is done before a learner's first key, not after it."""
    element.focus()
    page.evaluate(SETTLED_JS)


def operate(page, control, kind_hint: str) -> str:
    """Change one control the way a learner would; returns a label for the report."""
    classes = control.get_attribute("class") or ""
    if "widget-slider" in classes:
        handle = control.locator(".noUi-handle").first
        if handle.get_attribute("aria-valuemin") == handle.get_attribute("aria-valuemax"):
            return "fixed"  # a slider with a single position (e.g. one layer)
        at_max = handle.get_attribute("aria-valuenow") == handle.get_attribute("aria-valuemax")
        focus(page, handle)
        page.keyboard.press("ArrowLeft" if at_max or kind_hint == "back" else "ArrowRight")
        return "slider"
    if "widget-dropdown" in classes:
        select = control.locator("select")
        options = select.locator("option").all_inner_texts()
        current = select.evaluate("s => s.selectedIndex")
        select.select_option(index=(current + 1) % len(options))
        return "dropdown"
    if "widget-select-multiple" in classes:
        select = control.locator("select")
        labels = select.locator("option").all_inner_texts()
        chosen = select.evaluate("s => [...s.selectedOptions].map(o => o.textContent)")
        if len(chosen) > 1:
            chosen = chosen[:-1]  # show one item fewer
        else:
            chosen = chosen + [next(x for x in labels if x not in chosen)]
        select.select_option(label=chosen)
        return "select-multiple"
    if "widget-select" in classes:
        select = control.locator("select")
        current = select.evaluate("s => s.selectedIndex")
        select.select_option(index=(current + 1) % select.locator("option").count())
        return "select"
    if "widget-radio" in classes:
        control.locator("input:not(:checked)").first.check()
        return "radio"
    if "widget-toggle-buttons" in classes:
        control.locator("button:not(.mod-active)").first.click()
        return "toggle-buttons"
    if "widget-checkbox" in classes:
        control.locator("input").click()
        return "checkbox"
    if "widget-toggle-button" in classes:
        control.click()
        return "toggle"
    box = control.locator("input, textarea").first
    focus(page, box)
    if box.get_attribute("type") == "number":
        box.fill(str(float(box.input_value() or 0) + 1))
        page.keyboard.press("Enter")  # to the box fill() focused (see below)
        return "number"
    # Reversing the words of each line keeps the vocabulary, the lengths and the number of
    # lines (a valid reordering where an explorer compares two orderings).
    lines = [line.split() for line in box.input_value().splitlines()]
    if sum(len(words) for words in lines) < 2:
        box.fill(box.input_value() + " " + box.input_value())
    else:
        box.fill("\n".join(" ".join(reversed(words)) for words in lines))
    # Enter goes to the box fill() left focused. box.press() would first look the box up
    # again through the whole notebook (Playwright's selector engine on the page's main
    # thread, 10-30 ms) after fill()'s input event has started the clock: the driver's
    # work, timed as if the page were slow to repaint.
    page.keyboard.press("Enter")
    return "text"


NARROW = {"width": 1280, "height": 1000}
# True once every figure has taken the page's new width: two looks 300 ms apart agree.
SETTLED_WIDTHS_JS = """() => {
    const svgs = [...document.querySelectorAll('.js-plotly-plot .main-svg')];
    const widths = JSON.stringify(svgs.map(s => s.getAttribute('width')));
    const same = widths === window.__tcWidths;
    window.__tcWidths = widths;
    return same;
}"""


@pytest.mark.parametrize("notebook", LAB_RUN, ids=[p.stem for p in LAB_RUN])
def test_chapter_runs_and_every_control_repaints(notebook, lab, browser, latency):
    page = browser.new_page(viewport=WINDOW)
    report = latency.setdefault(notebook.stem, {})
    try:
        open_notebook(page, lab, notebook.name)
        timed_run_all(page, report)
        every_control_repaints(page, notebook.stem, report)
    finally:
        page.close()
        shutdown_kernels(lab)


def timed_run_all(page, report: dict, timeout_s: float = 120) -> None:
    """Run All on the opened chapter, timed into ``report``: to its first figure, its first live
    one, idle; then every widget rendered and every live figure drawn, no error, no clipped text."""
    report["load_average_at_start"] = [round(x, 2) for x in os.getloadavg()]
    t0 = run_all(page)
    # The first figure of any kind (a static go.Figure or a live FigureView) ...
    page.wait_for_function(
        "() => document.querySelector('.tc-figure[data-tc-painted-at], .js-plotly-plot .main-svg')",
        timeout=120_000,
        polling=20,
    )
    first_any = page.evaluate("performance.now()")
    report["run_all_to_first_plotly_figure_s"] = round((first_any - t0) / 1000, 2)
    wait_executed(page, timeout_s)
    # ... and the first live one (an explorer's FigureView stamps when it was painted).
    live = page.evaluate("""() => [...document.querySelectorAll('.tc-figure[data-tc-painted-at]')]
        .map(d => Number(d.dataset.tcPaintedAt))""")
    report["run_all_to_first_live_figure_s"] = round((min(live) - t0) / 1000, 2) if live else None
    report["run_all_to_idle_s"] = round((page.evaluate("performance.now()") - t0) / 1000, 2)

    # Every widget output rendered; every live figure drawn by plotly.
    page.wait_for_function(
        """() => [...document.querySelectorAll(
          '.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.widget-view+json"]')]
          .every(o => o.querySelector('.lm-Widget, .jupyter-widgets'))
        && [...document.querySelectorAll('.tc-figure')].every(d => d.querySelector('.main-svg'))""",
        timeout=30_000,
    )
    assert not page.evaluate(ERRORS_JS)
    clipped = page.evaluate(CLIPPED_JS)
    assert not clipped, f"figure text wider than its figure: {clipped}"


def every_control_repaints(page, stem: str, report: dict) -> None:
    """On the executed chapter ``stem``: every control of every explorer moved, each must repaint
    a figure (latencies into ``report``); a screenshot; at NARROW no title runs past its figure."""
    page.set_viewport_size(WINDOW)
    page.evaluate(INPUT_HOOK)
    samples, driven, draws, operated, unchanged = [], [], [], [], []
    trips, paints = [], []  # input → the kernel's figures arrive; arrival → painted
    explorers = page.locator(".tc-explorer")
    for e in range(explorers.count()):
        explorer = explorers.nth(e).element_handle()
        explorer.scroll_into_view_if_needed()
        # A learner looks before touching: JupyterLab renders the cells scrolled into view
        # lazily, and that work is not part of the explorer's repaint.
        page.evaluate(SETTLED_JS)
        controls = explorers.nth(e).locator(CONTROLS)
        moved_any = controls.count() == 0
        for c in range(controls.count()):
            control = controls.nth(c)
            slider = "widget-slider" in (control.get_attribute("class") or "")
            presses = SLIDER_PRESSES if slider else OTHER_CHANGES
            for i in range(presses):
                before = figures_of(explorer)
                start = page.evaluate("() => { window.__tcFirstInput = null; return performance.now(); }")
                kind = operate(page, control, "back" if i == presses - 1 and i else "")
                where = f"explorer {e}, control {c} ({kind})"
                if kind == "fixed":
                    break
                after = wait_repaint(page, explorer, before)
                message = explorers.nth(e).locator(".tc-message").all_inner_texts()
                assert not any("⚠" in m for m in message), f"{where}: {message}"
                if after is None:
                    # The same picture again (e.g. sampling that picks what greedy did):
                    # allowed, but reported; each explorer must move with some control.
                    unchanged.append(where)
                    break
                changed = [a["print"] != b["print"] for a, b in zip(after, before)]
                assert any(changed), f"{where}: figures redrawn but nothing on them changed"
                moved_any = True
                painted = max(a["painted"] for a, b in zip(after, before) if a["revision"] > b["revision"])
                first_input = page.evaluate("() => window.__tcFirstInput") or start
                received = min(a["received"] for a, b in zip(after, before) if a["revision"] > b["revision"])
                samples.append(round(painted - first_input, 1))
                trips.append(round(received - first_input, 1))
                paints.append(round(painted - received, 1))
                driven.append(round(painted - start, 1))
                draws.append(max(a["drawMs"] for a in after))
                operated.append(kind)
        assert moved_any, f"explorer {e}: no control changed any figure ({unchanged})"
    report["controls_unchanged"] = unchanged
    assert not page.evaluate(ERRORS_JS)
    report["controls_operated"] = operated
    report["control_to_repaint_ms"] = samples
    if samples:
        report["median_control_to_repaint_ms"] = round(statistics.median(samples), 1)
        report["median_including_test_driver_ms"] = round(statistics.median(driven), 1)
        report["median_browser_draw_ms"] = round(statistics.median(draws), 1)
        report["median_input_to_figures_arriving_ms"] = round(statistics.median(trips), 1)
        report["median_arrival_to_painted_ms"] = round(statistics.median(paints), 1)
    report["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
    print(f"\n{stem}: {report}")

    if explorers.count():
        explorers.first.scroll_into_view_if_needed()
        # JupyterLab draws the cells of a long notebook lazily after a scroll: give it
        # a moment (chapter 08's shot was a blank page without this).
        page.wait_for_timeout(1500)
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{stem}.png"))
    # A laptop's or a projector's width: the figures follow it, and no title may then run
    # past its figure (plotly clips it at both ends; chapter 02's did at 1400 px).
    page.set_viewport_size(NARROW)
    page.wait_for_function(SETTLED_WIDTHS_JS, timeout=20_000, polling=300)
    clipped = page.evaluate(CLIPPED_JS)
    assert not clipped, f"at {NARROW['width']} px, figure text wider than its figure: {clipped}"
    if samples and REPAINT_GOAL_MS is not None:
        median = report["median_control_to_repaint_ms"]
        assert median <= REPAINT_GOAL_MS, (
            f"{stem}: a control repaints its figures in a median of {median} ms "
            f"(goal {REPAINT_GOAL_MS:.0f} ms; load average {report['load_average_at_end']})"
        )
