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
  function spec(div) { return isDark() ? darkSpec(div._tcLight, TC_THEMES) : JSON.parse(div._tcLight); }

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
      const readable = () => { readableCellText(el); requestAnimationFrame(() => fitTitle(el)); };
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

  // Plotly does not wrap a title: one wider than its chart (a long title in a phone's window)
  // was clipped at both ends. It is drawn again at the size that fits, and back at the
  // figure's own size (or as near as fits) when the window widens; a 5 % margin on the way
  // up keeps a size that fits from being shrunk and grown again at every plot.
  function fitTitle(el) {
    const title = el.querySelector(".gtitle"), svg = el.querySelector(".main-svg");
    if (!title || !svg) return;
    const room = svg.getBoundingClientRect().width - 16, wide = title.getBoundingClientRect().width;
    const size = parseFloat(getComputedStyle(title).fontSize);
    if (!(room > 0 && wide > 0 && size > 0)) return;
    if (el._tcTitleSize === undefined) el._tcTitleSize = size;  // the figure's own, first drawn
    let want = size;
    if (wide > room) want = Math.max(9, Math.floor((size * room) / wide));
    else if (size < el._tcTitleSize) {
      want = Math.max(size, Math.min(el._tcTitleSize, Math.floor((0.95 * size * room) / wide)));
    }
    if (want !== size) window.Plotly.relayout(el, { "title.font.size": want });
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
