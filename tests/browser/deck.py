"""Stepping through a chapter presented with jupyterlab-slideshow, and measuring each slide.

``slide_state`` reports, for the slide on screen, which cells the deck shows, whether each
fits the screen (nothing above, below or beside the viewport, no box inside clipping its
content) and the smallest font sizes of its prose, its code and the rest of its text.
"""

from __future__ import annotations

import time

# The deck's state in the page: which cells are on screen, which of them are shown yet.
POSITION_JS = """() => [...document.querySelectorAll('.jp-Notebook-cell')].flatMap((c, i) =>
    c.classList.contains('jp-deck-mod-onscreen')
      ? [i + (c.classList.contains('jp-deck-mod-visible') ? '' : '~')] : [])"""

SLIDE_JS = """() => {
  const LABELS = '.gtitle, .xtick, .ytick, .g-xtitle, .g-ytitle, .legendtext, .annotation, .cbaxis, .cbtitle';
  const CODE = '.cm-editor, .jp-RenderedHTMLCommon :is(code, pre), .jp-OutputArea-output pre';
  const W = window.innerWidth, H = window.innerHeight, problems = [];
  const cells = [...document.querySelectorAll('.jp-Notebook-cell')];
  const onscreen = cells.filter(c => c.classList.contains('jp-deck-mod-onscreen'));
  const size = el => parseFloat(getComputedStyle(el).fontSize);
  const shown = el => { const r = el.getBoundingClientRect(); return r.width > 0 && r.height > 0
      && getComputedStyle(el).visibility !== 'hidden'; };
  const ownText = el => [...el.childNodes].some(n => n.nodeType === 3 && n.textContent.trim());
  let prose = Infinity, code = Infinity, other = Infinity, figure = Infinity;
  const where = {};
  for (const cell of onscreen) {
    const i = cells.indexOf(cell), r = cell.getBoundingClientRect();
    if (r.height === 0) continue;
    if (r.top < -1 || r.bottom > H + 1 || r.left < -1 || r.right > W + 1)
      problems.push(`cell ${i} spans ${Math.round(r.top)}..${Math.round(r.bottom)} px ` +
                    `(x ${Math.round(r.left)}..${Math.round(r.right)}) of a ${W}×${H} screen`);
    for (const el of cell.querySelectorAll('*')) {
      if (!shown(el)) continue;
      const style = getComputedStyle(el);
      // A box that hides or scrolls part of its content clips the slide.
      const skip = el.closest('.js-plotly-plot, .cm-editor, select, mjx-assistive-mml');
      const name = `${el.tagName.toLowerCase()}.${[...el.classList].join('.')}`;
      if (!skip && /(hidden|auto|scroll)/.test(style.overflowY) && el.scrollHeight > el.clientHeight + 2
          && el.clientHeight > 0)
        problems.push(`cell ${i}: ${name} clips ${el.scrollHeight - el.clientHeight} px of its content`);
      if (!skip && /(hidden|auto|scroll)/.test(style.overflowX) && el.scrollWidth > el.clientWidth + 2
          && el.clientWidth > 0)
        problems.push(`cell ${i}: ${name} clips ${el.scrollWidth - el.clientWidth} px of its width`);
      if (el.closest('svg')) {
        // Titles, axis labels, ticks, legends; not the numbers plotly fits inside heatmap cells.
        if (el.tagName === 'text' && el.textContent.trim() && el.closest('.main-svg')
            && el.closest(LABELS)) {
          const s = size(el);
          if (s < figure) { figure = s; where.figure = `${i}: ${el.textContent.slice(0, 30)}`; }
        }
        continue;
      }
      if (!ownText(el)) continue;
      const s = size(el);
      if (el.closest(CODE)) {
        if (s < code) { code = s; where.code = `${i}: ${el.textContent.slice(0, 30)}`; }
      } else if (el.closest('mjx-container, sub, sup')) {
        continue;  // formulas and indices are sized by MathJax and the browser, from the prose's size
      } else if (el.closest('.jp-MarkdownCell .jp-RenderedHTMLCommon')) {
        if (s < prose) { prose = s; where.prose = `${i}: ${el.textContent.slice(0, 30)}`; }
      } else if (s < other) { other = s; where.other = `${i}: ${el.textContent.slice(0, 30)}`; }
    }
  }
  const fin = x => (x === Infinity ? null : x);
  const heights = onscreen.map(c => Math.round(c.getBoundingClientRect().height));
  return {cells: onscreen.map(c => cells.indexOf(c)), heights, problems,
          prose: fin(prose), code: fin(code), other: fin(other), figure: fin(figure), where};
}"""

# The deck's shortcuts answer to a focused element inside the notebook in command mode:
# what a click on the slide's text focuses (the active cell).
FOCUS_JS = """() => { const cell = document.querySelector('.jp-Notebook .jp-Cell.jp-mod-active')
    || document.querySelector('.jp-Notebook .jp-Cell');
  if (!cell.hasAttribute('tabindex')) cell.setAttribute('tabindex', '-1');
  cell.focus(); return document.activeElement === cell; }"""

SETTLED_JS = """() => ![...document.querySelectorAll('.tc-figure')].some(d => d.dataset.tcBusy === '1')"""


def position(page) -> tuple[str, ...]:
    return tuple(page.evaluate(POSITION_JS))


def press(page, key: str, settle_s: float = 0.6) -> tuple[str, ...]:
    """Press ``key`` with the notebook focused, not a widget (the deck's own shortcuts, as after
    a click on the slide); returns the new position."""
    page.evaluate(FOCUS_JS)
    page.keyboard.press(key)
    time.sleep(settle_s)  # the deck scrolls and fades fragments in
    page.wait_for_function(SETTLED_JS, timeout=10_000)
    return position(page)


def start_deck(page) -> None:
    """Present from the first cell."""
    page.locator(".jp-Notebook-cell").first.click()
    page.locator('[data-command="deck:toggle"]').click()
    page.wait_for_selector("body[data-jp-deck-mode='presenting']", state="attached", timeout=10_000)
    time.sleep(1.0)


def slide_state(page) -> dict:
    return page.evaluate(SLIDE_JS)


def presenting(page) -> bool:
    return page.evaluate("() => document.body.dataset.jpDeckMode === 'presenting'")


def stop_deck(page) -> None:
    """Leave the deck (Esc; the toolbar's deck button if that failed). The deck remembers in
    the lab's settings that it was on, so a later page would open presenting otherwise."""
    if not presenting(page):
        return
    press(page, "Escape", settle_s=0.3)
    if presenting(page):
        page.locator('[data-command="deck:toggle"]').first.click()
    page.wait_for_function("() => document.body.dataset.jpDeckMode !== 'presenting'", timeout=10_000)
