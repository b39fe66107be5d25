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
// learner switches theme. It also adds the course's page style (static/course.css: text
// sized for presenting) and, while presenting, fits each figure to the screen.

const views = new Set();  // the repaint functions of the views on the page
let watching = false;
function watchPage() {
  if (watching) return;
  watching = true;
  const repaintAll = () => { for (const repaint of views) repaint(); };
  new MutationObserver(repaintAll).observe(document.body, {
    attributes: true, attributeFilter: ["data-jp-theme-light", "data-jp-deck-mode"] });
  let timer = null;
  window.addEventListener("resize", () => { clearTimeout(timer); timer = setTimeout(repaintAll, 100); });
}

function isDark() { return document.body.dataset.jpThemeLight === "false"; }
function isPresenting() { return document.body.dataset.jpDeckMode === "presenting"; }

// Presenting (jupyterlab-slideshow): a figure at most this share of the screen's height,
// its text 16 px (static/course.css sizes the rest of the slide).
const DECK_HEIGHT = 0.55, DECK_FONT = 16, DECK_MIN_HEIGHT = 220;
function deckHeight() { return Math.max(DECK_MIN_HEIGHT, Math.round(window.innerHeight * DECK_HEIGHT)); }

// What a drawing depends on besides the figure: redraw when it changes.
function pageMode() {
  return (isDark() ? "dark" : "light") + (isPresenting() ? ` deck ${deckHeight()}` : "");
}

function themed(text, themes) {
  const dark = isDark() && themes && themes.template;
  if (dark) {
    for (const [light, darker] of Object.entries(themes.colours || {})) text = text.split(light).join(darker);
  }
  const spec = JSON.parse(text);
  spec.layout = spec.layout || {};
  if (dark) spec.layout.template = themes.template;
  if (isPresenting()) {
    spec.layout.height = Math.min(spec.layout.height || 450, deckHeight());
    spec.layout.font = { ...(spec.layout.font || {}), size: DECK_FONT };
  }
  return spec;
}

function addCourseStyle(css) {
  if (!css || document.getElementById("tc-course-style")) return;
  const style = document.createElement("style");
  style.id = "tc-course-style";
  style.textContent = css;
  document.head.appendChild(style);
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
      addCourseStyle(library.get("css"));
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
    div.dataset.tcMode = pageMode();
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
  // A change of JupyterLab's theme, of presenting, or of the screen while presenting,
  // redraws the figure (only if it was drawn for another).
  const repaint = () => { if (div.dataset.tcMode && div.dataset.tcMode !== pageMode()) update(); };
  views.add(repaint);
  watchPage();
  await update();
  return () => { alive = false; views.delete(repaint); observer.disconnect(); Plotly.purge(div); };
}

export default { render };
