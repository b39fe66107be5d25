// An exported page in the reader's theme (static/offline.html.j2 runs this as the <body>
// opens, after static/theme_swap.js; TC_THEMES is figures.themes.theme_swap()).
//
// The page follows the system's light or dark setting unless the reader chose one with the
// button in the chapter bar (remembered in localStorage, on every exported page). Dark:
// JupyterLab Dark's stylesheet (the style element "tc-theme-dark") is switched on, <body> says
// data-jp-theme-light="false" as in JupyterLab (static/course.css keys on it), and every
// chart is drawn as the live view draws it there. Charts are built light; Plotly.newPlot is
// wrapped before the first one is drawn, so a dark page never flashes a light chart.
(function () {
  const KEY = "tc-export-theme", system = window.matchMedia("(prefers-color-scheme: dark)");
  const charts = new Set();
  let picked = null; // the reader's choice, kept on this page too: storage may be off

  function chosen() {
    try { return window.localStorage.getItem(KEY) || picked; } catch (e) { return picked; }
  }
  function isDark() { const c = chosen(); return c === "dark" || (c !== "light" && system.matches); }
  function spec(div) {
    return roomForLabels(isDark() ? darkSpec(div._tcLight, TC_THEMES) : JSON.parse(div._tcLight));
  }

  // A figure sizes its margins for its labels without plotly's automargin (it lays a figure out
  // twice, too slow for a live slider). A page is drawn once per width, and in a phone's window
  // a slanted last tick label ran past the chart's right edge (chapter 06's "<pad>", cut by 7 px):
  // here every axis the figure names makes room for its labels.
  function roomForLabels(figure) {
    const layout = figure.layout || {};
    for (const key of Object.keys(layout)) {
      if (/^[xy]axis\d*$/.test(key) && layout[key] && typeof layout[key] === "object") {
        layout[key] = { ...layout[key], automargin: true };
      }
    }
    return figure;
  }

  const draw = window.Plotly && window.Plotly.newPlot;
  if (draw) {
    window.Plotly.newPlot = function (div, data, layout, config) {
      const el = typeof div === "string" ? document.getElementById(div) : div;
      if (!el) return draw.apply(this, arguments);
      el._tcLight = JSON.stringify({ data: data || [], layout: layout || {} });
      el._tcConfig = config;
      charts.add(el);
      const { data: d, layout: l } = spec(el);
      const drawn = draw.call(this, el, d, l, config);
      // The numbers in heatmap cells, black or white by their cell (static/theme_swap.js),
      // now and after every later plot (a theme switch, a resize).
      // The title once the plot has settled: at "afterplot" a resize has not yet redrawn it.
      const readable = () => {
        mendToolbar(el);
        readableCellText(el);
        hideTinyCellText(el);
        requestAnimationFrame(() => fitTitles(el));
      };
      Promise.resolve(drawn).then(() => {
        readable();
        if (!el.dataset.tcCellText) {  // one listener, however often the chart is drawn anew
          el.dataset.tcCellText = "1";
          el.on("plotly_afterplot", readable);
        }
      }, () => {});
      return drawn;
    };
  }

  // Plotly shrinks the numbers in heatmap cells to fit their cells: in a phone's window chapter
  // 03's Q, K and V came out 5 px high, specks no one reads. A number smaller than MIN_CELL_TEXT
  // px is not drawn at all (the hover still gives it), as a bar's value is hidden rather than
  // shrunk below 12 px (figures/base.py: MIN_VALUE_TEXT); a wider window brings it back.
  const MIN_CELL_TEXT = 12;
  function hideTinyCellText(el) {
    for (const text of el.querySelectorAll("g.heatmap-label text")) {
      text.style.display = parseFloat(getComputedStyle(text).fontSize) < MIN_CELL_TEXT ? "none" : "";
    }
  }

  // Plotly does not wrap a title: one wider than its chart (a long title in a phone's window)
  // was clipped at both ends. It is drawn again at the size that fits, and back at the
  // figure's own size (or as near as fits) when the window widens; a 5 % margin on the way
  // up keeps a size that fits from being shrunk and grown again at every plot. One that would
  // run under the toolbar is moved left of it first (titleRoom, static/column_labels.js).
  function fitTitle(el) {
    const title = el.querySelector(".gtitle"), svg = el.querySelector(".main-svg");
    if (!title || !svg) return {};
    const fit = titleRoom(el), wide = title.getBoundingClientRect().width;
    const size = parseFloat(getComputedStyle(title).fontSize);
    if (!(fit.whole > 0 && wide > 0 && size > 0)) return {};
    if (el._tcTitleSize === undefined) el._tcTitleSize = size;  // the figure's own, first drawn
    const room = titleRoomFor(fit, (wide * el._tcTitleSize) / size, el._tcTitleSize);  // at its own size
    let want = size;
    if (wide > room) want = Math.max(9, Math.floor((size * room) / wide));
    else if (size < el._tcTitleSize) {
      want = Math.max(size, Math.min(el._tcTitleSize, Math.floor((0.95 * size * room) / wide)));
    }
    const chart = svg.getBoundingClientRect().width;
    const update = titlePlacement(fit.at((wide * want) / size), el._fullLayout || {}, chart);
    return want !== size ? { ...update, "title.font.size": want } : update;
  }

  // Nor does it wrap an axis title: in a phone's window chapter 00's "distance from the last
  // token (steps back)" ran 12 px past the chart and lost its end. A title centred on its axis
  // that reaches past the chart is drawn at the size that fits (9 px at the least), and back at
  // its own size (or as near as fits) when the window widens.
  function fitAxisTitles(el) {
    const svg = el.querySelector(".main-svg"), update = {};
    if (!svg || !el._fullLayout) return update;
    const box = svg.getBoundingClientRect();
    el._tcAxisTitleSize = el._tcAxisTitleSize || {};  // each axis title's own size, first drawn
    for (const text of el.querySelectorAll("text[class$='title']")) {
      const axis = /^([xy])(\d*)title$/.exec(text.getAttribute("class") || "");
      const size = parseFloat(getComputedStyle(text).fontSize), r = text.getBoundingClientRect();
      if (!axis || !(size > 0 && r.width > 0 && r.height > 0)) continue;
      const name = `${axis[1]}axis${axis[2]}`;
      if (el._tcAxisTitleSize[name] === undefined) el._tcAxisTitleSize[name] = size;
      const own = el._tcAxisTitleSize[name], across = axis[1] === "x";  // a y title is drawn upright
      const long = across ? r.width : r.height;
      const centre = across ? (r.left + r.right) / 2 : (r.top + r.bottom) / 2;
      const room = 2 * (across ? Math.min(centre - box.left, box.right - centre)
        : Math.min(centre - box.top, box.bottom - centre)) - 8;
      let want = size;
      if (long > room) want = Math.max(9, Math.floor((size * room) / long));
      else if (size < own) want = Math.max(size, Math.min(own, Math.floor((0.95 * size * room) / long)));
      if (want !== size) update[`${name}.title.font.size`] = want;
    }
    return update;
  }

  // Words along an axis (a heatmap's tokens) are labelled one by one, and plotly draws them all
  // however narrow the chart: in a phone's window chapter 09's 26 earlier tokens shared 96 px and
  // chapter 08's heads 11 tokens 65 px, drawn on top of each other. Labels that would overlap are
  // thinned to every k-th, k as small as reads, and all come back when the window widens.
  // ``el._tcTicks``: each thinned axis's own labels and its k.
  function thinTicks(el) {
    const layout = el._fullLayout, update = {};
    if (!layout) return update;
    el._tcTicks = el._tcTicks || {};
    for (const name of Object.keys(layout).filter((key) => /^[xy]axis\d*$/.test(key))) {
      const axis = layout[name];
      const own = el._tcTicks[name] || { vals: axis.tickvals, text: axis.ticktext, k: 1 };
      const labels = [...el.querySelectorAll(`.${axis._id}tick text`)].filter((t) => t.textContent.trim());
      const span = Array.isArray(axis.range) ? Math.abs(axis.range[1] - axis.range[0]) : 0;
      if (axis.tickmode !== "array" || !Array.isArray(own.vals) || own.vals.length < 2 || !labels.length
          || !(axis._length > 0 && span > 0)) continue;
      // A log axis's range is in powers of ten: so must the gap between two labels be (else
      // chapter 00's nine labels from 1 down to 0.005 were thinned to one).
      const at = axis.type === "log" ? (v) => Math.log10(v) : (v) => v;
      if (axis.type === "log" && !own.vals.every((v) => v > 0)) continue;
      const step = Math.min(...own.vals.slice(1).map((v, i) => Math.abs(at(v) - at(own.vals[i]))));
      const pitch = (axis._length * step) / span;  // px between two of the axis's own labels
      const k = name[0] === "y" ? rowStep(labels, pitch) : columnStep(axis, own, labels[0], pitch);
      if (!k) continue;  // labels that are not numbers
      // A grid of heads keeps the same words under each (keptLabels, static/column_labels.js).
      const first = name[0] === "x" ? tallestBar(el, axis, own.vals) : 0;  // its word stays
      const kept = keptLabels(own.vals.map(at), k, tilePeriod(el.layout, name), first);
      const shown = Array.isArray(axis.tickvals) ? axis.tickvals.length : 0;
      const same = shown === kept.length && kept.every((i, n) => axis.tickvals[n] === own.vals[i]);
      if (k === own.k && same) continue;  // as it should be
      el._tcTicks[name] = { ...own, k };
      update[`${name}.tickvals`] = kept.map((i) => own.vals[i]);
      if (Array.isArray(own.text)) update[`${name}.ticktext`] = kept.map((i) => own.text[i]);
    }
    return update;
  }

  // Rows: one label's height apart.
  function rowStep(labels, pitch) {
    const need = Math.max(...labels.map((t) => t.getBoundingClientRect().height));
    return pitch > 0 && need > 0 && Number.isFinite(need) ? Math.max(1, Math.ceil(need / pitch - 1e-6)) : 0;
  }

  // Columns: columnStep, static/column_labels.js (shared with the live view; export/page.py
  // puts it before this file).

  // The chart's title and its axis titles, each at the size that fits, and its axes' labels
  // thinned where they would overlap, in one relayout.
  // Panel titles (annotations: chapter 03's "Q (queries)", "K (keys)", "V (values)") that run
  // into each other in a narrow chart are broken onto two lines at the space nearest their
  // middle; one that would fit on one line again (the window widened) is put back as the
  // figure has it. Same rule as figure_view.js's fitPanelTitles.
  function fitPanelTitles(el) {
    const own = (JSON.parse(el._tcLight).layout || {}).annotations || [];
    const live = (el.layout && el.layout.annotations) || [];
    const boxes = [...el.querySelectorAll("g.annotation[data-index]")].map((g) => {
      const i = Number(g.dataset.index), r = g.getBoundingClientRect();
      // As one line: the lines' widths side by side, centred where the title is.
      const lines = [...g.querySelectorAll("tspan.line")].map((t) => t.getBoundingClientRect().width);
      const width = lines.length > 1 ? lines.reduce((a, b) => a + b, 0) + 4 : r.width;
      const mid = (r.left + r.right) / 2, line = r.height / Math.max(1, lines.length);
      return { i, left: mid - width / 2, right: mid + width / 2, top: r.bottom - line, bottom: r.bottom, line };
    }).filter((b) => own[b.i] && b.right > b.left);
    const crowded = new Set();
    boxes.forEach((a, n) => boxes.slice(n + 1).forEach((b) => {
      if (a.left < b.right - 1 && b.left < a.right - 1 && a.top < b.bottom - 1 && b.top < a.bottom - 1) {
        crowded.add(a.i); crowded.add(b.i);
      }
    }));
    const update = {}, wanted = new Map();
    boxes.forEach(({ i }) => {
      const text = String(own[i].text ?? ""), spaces = [...text.matchAll(/ /g)].map((m) => m.index);
      let want = text;
      if (crowded.has(i) && spaces.length && !/<br>/i.test(text)) {
        const at = spaces.reduce((b, s) => (Math.abs(s - text.length / 2) < Math.abs(b - text.length / 2) ? s : b));
        want = `${text.slice(0, at)}<br>${text.slice(at + 1)}`;
      }
      wanted.set(i, want);
      if (live[i] && live[i].text !== want) update[`annotations[${i}].text`] = want;
    });
    return { ...update, ...clearOfTitle(el, boxes, wanted) };
  }

  // Titles broken onto two lines reach a line higher, and in a phone's window chapter 03's
  // "Q (queries)" and "K (keys)" then covered the figure's title. The top margin grows by as
  // much as they would cover it, in the relayout that breaks them, and is the figure's own again
  // when they fit. Worked out from where all would be at the figure's own margin, not from the
  // margin now: drawn again, the answer is the same, so the page settles (growing the margin from
  // the one drawn, a previous try kept breaking and joining the titles at every plot).
  function clearOfTitle(el, boxes, wanted) {
    const layout = el._fullLayout, title = el.querySelector(".gtitle");
    if (!layout || !title || !title.getBoundingClientRect().width) return {};
    const ownLayout = JSON.parse(el._tcLight).layout || {}, notes = ownLayout.annotations || [];
    const ownTop = ownLayout.margin && typeof ownLayout.margin.t === "number" ? ownLayout.margin.t : null;
    // Without a margin of its own, the figure's is the one it was first drawn with (plotly's 100
    // px, or its template's): taking 100 for a template's 60, every pass asked for it again.
    if (el._tcFirstTop === undefined) el._tcFirstTop = layout.margin.t;
    const top = layout.margin.t, base = ownTop ?? el._tcFirstTop;
    // How far the title moves down per px of margin: centred in the margin when placed "auto",
    // with the plot when placed on it (yref "paper"), not at all when placed on the page.
    const t = layout.title || {}, placed = typeof t.y === "number";
    const titleMoves = !placed ? 0.5 : t.yref === "paper" ? t.y : 0;
    const r = title.getBoundingClientRect(), titleBottom = r.bottom - titleMoves * (top - base);
    let need = 0;
    for (const b of boxes) {
      const note = notes[b.i] || {}, y = typeof note.y === "number" ? note.y : 0.5;
      const moves = note.yref === "paper" || note.yref === undefined ? y : 0;  // px per px of margin
      if (!(b.right > r.left && b.left < r.right) || moves - titleMoves < 0.1) continue;
      const lines = (String(wanted.get(b.i)).match(/<br\s*\/?>/gi) || []).length + 1;
      const high = b.bottom - moves * (top - base) - lines * b.line;  // its top at the own margin
      need = Math.max(need, (titleBottom + 4 - high) / (moves - titleMoves));
    }
    const want = base + Math.ceil(need);
    if (Math.abs(want - top) <= 1) return {};  // as it should be (1 px: measuring's rounding)
    return { "margin.t": want === base ? ownTop : want };
  }

  function fitTitles(el) {
    const update = { ...fitTitle(el), ...fitAxisTitles(el), ...thinTicks(el), ...fitPanelTitles(el) };
    if (Object.keys(update).length) window.Plotly.relayout(el, update).then(() => mendToolbar(el), () => {});
  }

  function apply() {
    const dark = isDark(), sheet = document.getElementById("tc-theme-dark");
    if (sheet) sheet.media = dark ? "all" : "not all";
    document.body.dataset.jpThemeLight = dark ? "false" : "true";
    document.body.dataset.jpThemeName = dark ? "JupyterLab Dark" : "JupyterLab Light";
    for (const button of document.querySelectorAll(".tc-theme-toggle")) {
      button.textContent = dark ? "☀ Light theme" : "☾ Dark theme";
      button.setAttribute("aria-pressed", String(dark));
    }
  }
  function redraw() {
    apply();
    for (const div of charts) {
      const { data, layout } = spec(div);
      window.Plotly.react(div, data, layout, div._tcConfig);
    }
  }

  apply();
  system.addEventListener("change", redraw);
  document.addEventListener("click", (event) => {
    if (!event.target.closest(".tc-theme-toggle")) return;
    picked = isDark() ? "light" : "dark";
    try { window.localStorage.setItem(KEY, picked); } catch (e) { /* this page only */ }
    redraw();
  });
  document.addEventListener("DOMContentLoaded", apply); // the buttons in the bar below the text
})();
