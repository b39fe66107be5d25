// A figure built in the light theme, drawn in the dark one. Shared by the live view
// (widgets/view.py puts this file before static/figure_view.js) and the exported pages
// (static/offline.html.j2). ``themes`` is figures.themes.theme_swap(): the dark template, the
// colours the theme gives figures (``colours``) and the light page's deep orange, yellow and sky
// blue (``line_colours``, for Okabe–Ito's own: too light for white, brighter on the dark page),
// light → dark.

// Every light colour for its dark one in a single pass: one after another, a colour swapped
// in could be swapped again (the light ink becomes the dark ink, which is also the light
// theme's faint grey, and ended as the dark theme's faint: a current-step line drawn
// nearly black on black).
function swapColours(text, colours) {
  const lights = Object.keys(colours).sort((a, b) => b.length - a.length); // the longest first
  if (!lights.length) return text;
  const pattern = new RegExp(lights.map((c) => c.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")).join("|"), "g");
  return text.replace(pattern, (light) => colours[light]);
}

// A light figure's JSON text ({"data": …, "layout": …}) → its spec in the dark theme.
function darkSpec(text, themes) {
  const colours = { ...(themes.colours || {}), ...(themes.line_colours || {}) };
  const spec = JSON.parse(swapColours(text, colours));
  spec.layout = { ...(spec.layout || {}), template: themes.template };
  return spec;
}

// The numbers printed in heatmap cells, readable on every cell in both themes. Plotly colours
// each one #444 or white from a brightness threshold, which leaves mid-tone cells at 3.1 to
// 4.4:1 (0.39 in white on Blues' rgb(72,150,200): 3.2:1; on a dark page, where the scales are
// mirrored, as on a light one). Black or white, whichever contrasts more with the cell's own
// colour, reads at 4.58:1 at the least, on any colour. Called after every plot: plotly draws
// the labels again each time. A trace that sets its own text colour keeps it.
function cellScale(div, trace) {
  // The trace's own scale and range, or its shared colour axis's; flipped where reversed
  // (plotly keeps the scale as given and flips it when it draws).
  const axis = trace.coloraxis && div._fullLayout ? div._fullLayout[trace.coloraxis] : null;
  const from = axis || trace;
  let scale = from.colorscale;
  const min = axis ? axis._cmin ?? axis.cmin : trace._zmin ?? trace.zmin;
  const max = axis ? axis._cmax ?? axis.cmax : trace._zmax ?? trace.zmax;
  if (from.reversescale && Array.isArray(scale)) scale = scale.map(([p, c]) => [1 - p, c]).reverse();
  return { scale, min, max };
}

function cellColour(div, trace, z) {
  const { scale, min, max } = cellScale(div, trace);
  if (!Array.isArray(scale) || !scale.length || typeof z !== "number" || !Number.isFinite(z)) return null;
  const t = max > min ? Math.min(1, Math.max(0, (z - min) / (max - min))) : 0;
  let i = 1;
  while (i < scale.length - 1 && scale[i][0] < t) i++;
  const [p0, c0] = scale[Math.max(0, i - 1)], [p1, c1] = scale[i];
  const a = rgbOf(c0), b = rgbOf(c1);
  if (!a || !b) return null;
  const f = p1 > p0 ? Math.min(1, Math.max(0, (t - p0) / (p1 - p0))) : 0;
  return a.map((v, k) => v + (b[k] - v) * f);
}

function rgbOf(colour) {
  const s = String(colour).trim();
  let m = s.match(/^#([0-9a-f]{6})$/i);
  if (m) return [0, 2, 4].map((k) => parseInt(m[1].slice(k, k + 2), 16));
  m = s.match(/^#([0-9a-f]{3})$/i);
  if (m) return [...m[1]].map((h) => parseInt(h + h, 16));
  m = s.match(/^rgba?\(([^)]+)\)$/i);
  return m ? m[1].split(/[ ,/]+/).slice(0, 3).map(Number) : null;
}

function luminance(rgb) {
  const lin = (v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; };
  return 0.2126 * lin(rgb[0]) + 0.7152 * lin(rgb[1]) + 0.0722 * lin(rgb[2]);
}

function readableCellText(div) {
  for (const text of div.querySelectorAll("g.heatmap-label text")) {
    const cell = text.__data__, trace = text.closest("g.hm")?.__data__?.[0]?.trace;
    if (!cell || !trace) continue;
    const own = trace.textfont && trace.textfont.color;
    if (own && own !== "auto") continue;
    const rgb = cellColour(div, trace, cell.z);
    // Black and white read equally well ((L + 0.05)² = 0.0525) on a cell of luminance 0.179.
    if (rgb) text.style.fill = luminance(rgb) > 0.179 ? "#000000" : "#ffffff";
  }
}
