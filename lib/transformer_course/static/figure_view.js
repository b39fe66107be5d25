// FigureView: one plotly figure that redraws in place with Plotly.react.
//
// plotly.js is not fetched from anywhere: the kernel sends it once, in a shared
// PlotlyLibrary widget, and the first FigureView to render evaluates it. Every later
// update only sends the figure's JSON, and Plotly.react patches the same <div>.
//
// The same library widget carries plotly's config (static/plotly_config.json, which the
// export uses too: no share/upload button, no link to plotly's site) and the dark theme
// (figures/themes.py: theme_swap). Figures arrive in the light theme; when JupyterLab's
// <body data-jp-theme-light="false">, each is drawn with the dark template and its own
// light ink/muted/blank colours swapped for the dark ones. Every view repaints when the
// learner switches theme.

const views = new Set();  // the repaint functions of the views on the page
let watching = false;
function watchTheme() {
  if (watching) return;
  watching = true;
  new MutationObserver(() => { for (const repaint of views) repaint(); })
    .observe(document.body, { attributes: true, attributeFilter: ["data-jp-theme-light"] });
}

function isDark() { return document.body.dataset.jpThemeLight === "false"; }

function themed(text, themes) {
  if (!isDark() || !themes || !themes.template) return JSON.parse(text);
  for (const [light, dark] of Object.entries(themes.colours || {})) text = text.split(light).join(dark);
  const spec = JSON.parse(text);
  spec.layout = { ...(spec.layout || {}), template: themes.template };
  return spec;
}

function loadPlotly(model) {
  if (!globalThis.__tcPlotly) {
    globalThis.__tcPlotly = (async () => {
      const ref = model.get("_library");
      const library = await model.widget_manager.get_model(ref.replace(/^IPY_MODEL_/, ""));
      const module = { exports: {} };
      // plotly.min.js is a UMD bundle: handed a `module`, it exports Plotly there.
      new Function("module", "exports", "define", library.get("source"))(
        module, module.exports, undefined);
      return { Plotly: module.exports, config: library.get("config") || {},
               themes: library.get("themes") || {} };
    })().catch((err) => { globalThis.__tcPlotly = null; throw err; });
  }
  return globalThis.__tcPlotly;
}

async function render({ model, el }) {
  const div = document.createElement("div");
  div.className = "tc-figure";
  div.style.width = "100%";
  el.appendChild(div);
  const { Plotly, config, themes } = await loadPlotly(model);
  const CONFIG = { ...config };

  let running = false, dirty = false, alive = true;
  async function draw() {
    const text = model.get("_spec");
    if (!text) return;
    const start = performance.now();
    const spec = themed(text, themes);
    div.dataset.tcTheme = isDark() ? "dark" : "light";
    await Plotly.react(div, spec.data, spec.layout, CONFIG);
    div.dataset.tcDrawMs = (performance.now() - start).toFixed(1);
    div.dataset.tcRevision = String(model.get("_revision"));
    div.dataset.tcDrawnAt = String(performance.now());
    await new Promise((resolve) => requestAnimationFrame(resolve));
    div.dataset.tcPaintedAt = String(performance.now());   // read by the browser tests
  }
  async function update() {
    if (running) { dirty = true; return; }
    running = true;
    div.dataset.tcBusy = "1";
    try {
      do { dirty = false; if (alive) await draw(); } while (dirty);
    } finally { running = false; delete div.dataset.tcBusy; }
  }
  model.on("change:_spec", update);
  // Resize with the grid cell it sits in (plotly's `responsive` only follows the window).
  // Only a change of width counts: a redraw that changes the figure's own height would
  // otherwise trigger a second full redraw after every update.
  let width = 0;
  const observer = new ResizeObserver(() => {
    const now = el.clientWidth;
    if (now === width) return;
    width = now;
    if (now > 0 && div.dataset.tcRevision) Plotly.Plots.resize(div);
  });
  observer.observe(el);
  // A change of JupyterLab's theme redraws the figure (only if it was drawn in the other one).
  const repaint = () => {
    if (div.dataset.tcTheme && div.dataset.tcTheme !== (isDark() ? "dark" : "light")) update();
  };
  views.add(repaint);
  watchTheme();
  await update();
  return () => { alive = false; views.delete(repaint); observer.disconnect(); Plotly.purge(div); };
}

export default { render };
