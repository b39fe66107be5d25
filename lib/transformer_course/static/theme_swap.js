// A figure built in the light theme, drawn in the dark one. Shared by the live view
// (widgets/view.py puts this file before static/figure_view.js) and the exported pages
// (static/offline.html.j2). ``themes`` is figures.themes.theme_swap(): the dark template, and
// the colours figures draw themselves, light → dark.

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
  const spec = JSON.parse(swapColours(text, themes.colours || {}));
  spec.layout = { ...(spec.layout || {}), template: themes.template };
  return spec;
}
