"""Stepping through a chapter presented with jupyterlab-slideshow, and measuring each slide.

``slide_state`` reports, for the slide on screen, which cells the deck shows, whether each
fits the screen (nothing above, below or beside the viewport, no box inside clipping its
content) and the smallest font sizes of its prose, its code and the rest of its text.
"""

from __future__ import annotations

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

# The bar values of every chart on screen: how many, and those drawn past their plot area
# ({checked, past: [{title, text, over}]}). A chart squeezed by what shares its slide (chapter
# 05's three heads' jobs beside a 14-line code cell got about 200 px) had plotly cut its tallest
# bar's value in half above the plot. plotly's drag rectangles cover exactly the plot areas; a
# value is checked against the one it stands over, the nearest of a column of subplots.
BARS_JS = """() => { let checked = 0; const past = [];
  for (const div of document.querySelectorAll('.jp-deck-mod-onscreen .js-plotly-plot')) {
    const plots = [...div.querySelectorAll('.draglayer .nsewdrag')].map(e => e.getBoundingClientRect());
    const title = ((div.querySelector('.gtitle') || {}).textContent || '').slice(0, 40);
    for (const t of div.querySelectorAll('.bartext')) {
      const r = t.getBoundingClientRect(), x = (r.left + r.right) / 2, y = (r.top + r.bottom) / 2;
      // The plot area it stands over: of those under it, the nearest one up or down (subplots
      // stacked in rows share their x span).
      const away = p => Math.max(p.top - y, y - p.bottom, 0);
      const plot = plots.filter(p => x >= p.left - 1 && x <= p.right + 1)
                        .sort((a, b) => away(a) - away(b))[0];
      if (!r.width || !t.textContent.trim() || !plot) continue;
      checked += 1;
      if (r.top < plot.top - 1 || r.bottom > plot.bottom + 1)
        past.push({title, text: t.textContent.trim(),
                   over: Math.round(Math.max(plot.top - r.top, r.bottom - plot.bottom))});
    }
  }
  return {checked, past};
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


# Resolves once the slide has stood still: at least ``leastMs`` after the key (the deck scrolls
# 100 ms after a step), then no running animation (fragments fade in over 0.1 s) and the same
# cells on screen at the same places and sizes, figures (their drawing, their titles) included,
# for ``stillMs`` in a row; at most ``mostMs``. Measured in the page, so a step costs what the
# deck takes rather than a fixed sleep (0.6 s a step before: a third of a deck's time).
STILL_JS = """([leastMs, stillMs, mostMs]) => new Promise(resolve => {
  const start = performance.now();
  const snap = () => JSON.stringify([...document.querySelectorAll(
      '.jp-deck-mod-onscreen, .jp-deck-mod-onscreen .js-plotly-plot, .jp-deck-mod-onscreen .tc-figure')]
    .map(el => { const r = el.getBoundingClientRect(), svg = el.querySelector('.main-svg');
                 const title = el.querySelector('.gtitle');  // refitted after a relayout
                 return [el.className, Math.round(r.top), Math.round(r.left), Math.round(r.width),
                         Math.round(r.height), el.dataset.tcBusy || '', svg?.getAttribute('width'),
                         svg?.getAttribute('height'), title?.style.fontSize, title?.textContent] }));
  let last = null, since = start;
  const check = () => {
    const now = performance.now(), s = snap();
    // Transitions only (the deck's fades): an editor's cursor blinks by a CSS animation, restarted
    // at every step, that never lets the page stand still.
    const moving = document.getAnimations().some(
        a => a.playState === 'running' && a instanceof CSSTransition);
    if (s !== last || moving) { last = s; since = now; }
    if ((now - start >= leastMs && now - since >= stillMs) || now - start > mostMs) return resolve(true);
    setTimeout(check, 25);
  };
  check();
})"""


def press(page, key: str, settle_s: float = 0.15) -> tuple[str, ...]:
    """Press ``key`` with the notebook focused, not a widget (the deck's own shortcuts, as after
    a click on the slide); returns the new position once the slide stands still (STILL_JS:
    ``settle_s`` at least, 0.25 s without a change, 3 s at most)."""
    page.evaluate(FOCUS_JS)
    page.keyboard.press(key)
    settle(page, settle_s)  # the deck scrolls and fades fragments in
    return position(page)


def settle(page, least_s: float = 0.15) -> None:
    """Wait until the slide stands still (STILL_JS) and no figure is drawing."""
    page.evaluate(STILL_JS, [least_s * 1000, 250, 3000])
    page.wait_for_function(SETTLED_JS, timeout=10_000)


def start_deck(page) -> None:
    """Present from the first cell."""
    page.locator(".jp-Notebook-cell").first.click()
    page.locator('[data-command="deck:toggle"]').click()
    page.wait_for_selector("body[data-jp-deck-mode='presenting']", state="attached", timeout=10_000)
    settle(page, 0.3)


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
