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
// light ink/muted/blank colours (and its heatmap scales' colours) swapped for the dark
// ones, and the numbers in heatmap cells black or white, whichever reads on the cell
// (readableCellText). Every view repaints when the learner switches theme. It also adds the course's page style (static/course.css: text
// sized for presenting) and, while presenting, fits each figure to the screen.

const views = new Set();  // the repaint functions of the views on the page
let watching = false;
function watchPage() {
  if (watching) return;
  watching = true;
  const repaintAll = () => { followSlides(); for (const repaint of views) repaint(); };
  new MutationObserver(repaintAll).observe(document.body, {
    attributes: true, attributeFilter: ["data-jp-theme-light", "data-jp-deck-mode"] });
  let timer = null;
  window.addEventListener("resize", () => { clearTimeout(timer); timer = setTimeout(repaintAll, 100); });
}

// Presenting, the deck goes from slide to slide by the classes of the notebook's cells
// (ONSCREEN): when they change, the figures on screen are laid out again for the cells beside
// them (deckHeight), at most once every SLIDE_MS, and only those whose height changes (``refits``:
// each view's check). Not watched outside the deck: a click, a keystroke, plotly's own drawing
// change classes inside the notebook too, and the browser tests time those repaints.
const SLIDE_MS = 80, ONSCREEN = "jp-deck-mod-onscreen";
const refits = new Set();
let slides = null;  // {observer, notebooks (those observed), timer} while presenting
function followSlides() {
  if (!isPresenting()) {
    if (slides) { slides.observer.disconnect(); clearTimeout(slides.timer); slides = null; }
    return;
  }
  if (!slides) {
    const refitAll = () => { slides && (slides.timer = null); for (const refit of refits) refit(); };
    const observer = new MutationObserver((records) => {
      if (slides.timer || !records.some((r) => r.target.classList?.contains("jp-Notebook-cell"))) return;
      slides.timer = setTimeout(refitAll, SLIDE_MS);
    });
    slides = { observer, notebooks: new WeakSet(), timer: null };
  }
  for (const notebook of document.querySelectorAll(".jp-Notebook")) {  // and one opened since
    if (slides.notebooks.has(notebook)) continue;
    slides.notebooks.add(notebook);
    slides.observer.observe(notebook, { attributes: true, attributeFilter: ["class"], subtree: true });
  }
}

function isDark() { return document.body.dataset.jpThemeLight === "false"; }
function isPresenting() { return document.body.dataset.jpDeckMode === "presenting"; }

// Presenting (jupyterlab-slideshow): each figure as tall as the screen allows. The room
// is the screen less the cell's code and, in an explorer, its controls; an explorer's
// views share it by rows. Figure text at least DECK_FONT px (static/course.css sizes the
// rest of the slide).
const DECK_FONT = 16, DECK_MIN_FONT = 12, DECK_MIN_HEIGHT = 220, DECK_MARGIN = 56;
// The other cells on the figure's slide (a heading above it, a fragment of words below):
// their height and margins. None while the figure's own cell is off screen: the deck shows
// another slide then, and the figure is laid out again when its own comes (followSlides).
function slideMates(cell) {
  if (!cell || !cell.classList.contains(ONSCREEN)) return 0;
  let height = 0;
  const shown = cell.closest(".jp-Notebook")?.querySelectorAll(`.jp-Notebook-cell.${ONSCREEN}`) || [];
  for (const other of shown) {  // a fragment not shown yet too: the deck keeps its room (opacity 0)
    if (other === cell || !other.offsetHeight) continue;
    const style = getComputedStyle(other);
    height += other.offsetHeight + parseFloat(style.marginTop) + parseFloat(style.marginBottom);
  }
  return height;
}

function deckHeight(div) {
  // The cell's code and its other outputs (printed lines, other figures) stay on the slide,
  // and so do the other cells shown with it.
  const cell = div.closest(".jp-Cell"), own = div.closest(".jp-OutputArea-child");
  let chrome = cell ? (cell.querySelector(".jp-Cell-inputWrapper")?.offsetHeight || 0) : 0;
  chrome += slideMates(div.closest(".jp-Notebook-cell"));
  for (const output of cell ? cell.querySelectorAll(".jp-OutputArea-child") : []) {
    if (output !== own && !output.contains(own)) chrome += output.offsetHeight;
  }
  let rows = 1, span = 1;
  const explorer = div.closest(".tc-explorer");
  const grid = explorer && explorer.querySelector(".widget-gridbox");
  if (grid) {
    chrome += grid.getBoundingClientRect().top - explorer.getBoundingClientRect().top;
    // Rows of figures share the room; a row of tables or text keeps its own height.
    const views = [...grid.children], drawn = (v) => !!v.querySelector(".tc-figure");
    const figureRows = new Set(views.filter(drawn).map((v) => v.offsetTop));
    const otherRows = new Map();
    for (const v of views.filter((v) => !drawn(v) && !figureRows.has(v.offsetTop))) {
      otherRows.set(v.offsetTop, Math.max(otherRows.get(v.offsetTop) || 0, v.offsetHeight + 8));
    }
    for (const height of otherRows.values()) chrome += height;
    rows = figureRows.size || 1;
    // A view marked tall on a slide (static/course.css) spans two rows of the others.
    if (views.find((v) => v.contains(div))?.classList.contains("tc-tall-on-slide")) span = Math.min(2, rows);
  }
  const room = window.innerHeight - DECK_MARGIN - chrome - 8 * (rows - 1);
  return Math.max(DECK_MIN_HEIGHT, Math.floor(room / rows) * span + 8 * (span - 1));
}

// The height a figure that asks for ``asked`` px is drawn at on a slide (none asked: plotly's 450).
function deckTarget(div, asked) {
  return Math.min(asked || 450, deckHeight(div));
}

// Font sizes a figure sets itself (tick labels, panel titles): none below DECK_MIN_FONT.
function raiseFonts(obj) {
  if (Array.isArray(obj)) { obj.forEach(raiseFonts); return; }
  if (!obj || typeof obj !== "object") return;
  for (const [key, value] of Object.entries(obj)) {
    if (key === "size" && typeof value === "number" && value < DECK_MIN_FONT) obj[key] = DECK_MIN_FONT;
    else if (typeof value === "object") raiseFonts(value);
  }
}

// What a drawing depends on besides the figure: redraw when it changes.
function pageMode() {
  return (isDark() ? "dark" : "light") + (isPresenting() ? ` deck ${window.innerWidth}x${window.innerHeight}` : "");
}

// A view stacked beside a tall one (chapter 05's two heatmaps beside the grid of heads) has
// a third of the slide's width and half its height: at DECK_FONT its eleven row labels needed
// more height than its plot had (100 px) and overlapped. There the labels are COMPACT_FONT
// px and the x axis keeps its words but not its title (the figure's title says what it shows,
// the y title stays), which leaves the plot about 15 px a row.
const COMPACT_FONT = 13;
function besideTall(div) {
  const view = div.closest(".widget-gridbox > *");
  return !!view && !view.classList.contains("tc-tall-on-slide")
    && !!view.parentElement.querySelector(":scope > .tc-tall-on-slide");
}

function compact(layout) {
  for (const key of Object.keys(layout)) {
    if (!/^[xy]axis\d*$/.test(key)) continue;
    const axis = { ...layout[key], tickfont: { ...(layout[key].tickfont || {}), size: COMPACT_FONT } };
    const title = typeof axis.title === "object" && axis.title ? axis.title : { text: axis.title };
    axis.title = key.startsWith("x") ? { ...title, text: "" }
      : { ...title, font: { ...(title.font || {}), size: COMPACT_FONT + 1 } };
    layout[key] = axis;
  }
  // The bottom margin was reserved for the x title at DECK_FONT: plotly's automargin (on while
  // presenting) gives the tick labels what they need.
  layout.margin = { ...(layout.margin || {}), b: 8 };
}

// Numbers printed in heatmap cells are sized by plotly to fit their cell: on a slide an explorer's
// small panels got them at 5 to 9 px (chapter 03's Q, K and V, chapter 01's 5 × 8 embedding),
// specks no one reads on a projector. There the numbers are left out, only for the traces whose
// numbers came out below DECK_MIN_FONT, and a colour bar says what the colours mean (on the last
// such trace, when the figure showed none). ``drop``: {traces, bar} (tinyCellText's answer).
function tinyCellText(div) {
  const tiny = new Set();
  for (const text of div.querySelectorAll("g.heatmap-label text")) {
    const trace = text.closest("g.hm")?.__data__?.[0]?.trace;
    if (trace && text.textContent.trim() && parseFloat(getComputedStyle(text).fontSize) < DECK_MIN_FONT) {
      tiny.add(trace.index);
    }
  }
  return [...tiny].sort((a, b) => a - b);
}

// Off a slide too plotly shrinks the numbers to their cells: an explorer's third of the page or a
// narrow window drew them at 5 to 9 px. A number below MIN_CELL_TEXT px is not drawn (its hover
// still gives it), as a bar's value is hidden rather than shrunk below 12 px (figures/base.py:
// MIN_VALUE_TEXT); plotly draws the numbers again at every plot, and a wider view brings them back.
const MIN_CELL_TEXT = 12;
function hideTinyCellText(div) {
  for (const text of div.querySelectorAll("g.heatmap-label text")) {
    text.style.display = parseFloat(getComputedStyle(text).fontSize) < MIN_CELL_TEXT ? "none" : "";
  }
}

// Plotly sizes the numbers by a rule of thumb, 0.65 em a character of the longest: "−0.12" in a
// 38 px cell came out at 11 px and was hidden (chapter 06's scores, a third of a slide), though
// at 12 px it takes 30 px of the 38. A trace whose every number, measured as drawn, fits its cell
// at MIN_CELL_TEXT px is drawn again at that size (textfont.size: no figure sets one); one drawn so
// whose numbers no longer fit (a narrower view, longer numbers) goes back to plotly's size, and
// hideTinyCellText hides them. Run after every plot, as hideTinyCellText.
const CELL_TEXT_PAD = 4;  // px a number leaves free across its cell, two a side
async function fitCellText(Plotly, div) {
  const verdict = new Map();  // trace index → whether all its numbers fit their cells at MIN_CELL_TEXT
  for (const text of div.querySelectorAll("g.heatmap-label text")) {
    const trace = text.closest("g.hm")?.__data__?.[0]?.trace;
    if (!trace || !text.textContent.trim() || verdict.get(trace.index) === false) continue;
    const size = parseFloat(getComputedStyle(text).fontSize);
    const fitted = trace.textfont?.size === MIN_CELL_TEXT;
    if (!(size < MIN_CELL_TEXT) && !fitted) continue;  // plotly's own size, readable
    const plot = div._fullLayout?._plots?.[(trace.xaxis || "x") + (trace.yaxis || "y")];
    if (!plot) { verdict.set(trace.index, false); continue; }
    const wide = Math.abs(plot.xaxis.l2p(1) - plot.xaxis.l2p(0));
    const tall = Math.abs(plot.yaxis.l2p(1) - plot.yaxis.l2p(0));
    const hidden = text.style.display;
    text.style.display = "";  // hidden by hideTinyCellText: no box to measure
    const width = text.getBBox().width * (MIN_CELL_TEXT / size);
    text.style.display = hidden;
    // Half the padding of slack to stay fitted: measured at another size, a width rounds otherwise.
    const room = wide - (fitted ? CELL_TEXT_PAD / 2 : CELL_TEXT_PAD);
    verdict.set(trace.index, width <= room && MIN_CELL_TEXT * 1.2 <= tall);
  }
  const grow = [], shrink = [];
  for (const [index, fits] of verdict) {
    const fitted = div._fullData[index]?.textfont?.size === MIN_CELL_TEXT;
    if (fits && !fitted) grow.push(index);
    if (!fits && fitted) shrink.push(index);
  }
  if (grow.length) await Plotly.restyle(div, { "textfont.size": MIN_CELL_TEXT }, grow);
  if (shrink.length) await Plotly.restyle(div, { "textfont.size": null }, shrink);
}

function withoutCellText(spec, drop) {
  spec.data = spec.data.map((trace, i) => (drop.traces.includes(i) ? { ...trace, texttemplate: "" } : trace));
  // The colour bar goes to the last trace on a colour scale: a trace named in the legend is one
  // colour (figures/matrix.py: masked_layer, the masked cells' grey), and its bar would be a
  // grey strip that says nothing.
  const scaled = drop.traces.filter((i) => spec.data[i] && !spec.data[i].showlegend);
  const last = scaled[scaled.length - 1];
  if (!drop.bar || !spec.data[last]) return;
  const axis = spec.data[last].coloraxis;  // a shared colour axis draws the bar itself
  if (axis) spec.layout[axis] = { ...(spec.layout[axis] || {}), showscale: true };
  else spec.data[last] = { ...spec.data[last], showscale: true };
}

// A legend hung from under the title (figures/base.py: head_legend) is placed on the figure
// (yref "container") at a fraction of its height, worked out for the height it asks for. Drawn
// shorter on a slide it kept the fraction, not the px, and rose into the title (chapter 09's
// progress chart, 470 px asked, 220 drawn: 22 px from the top under a 22 px title); it keeps its
// distance from the top in px, the title's room. Plotly lets it take half the figure, and a
// legend hung that low left no room for the plot ("Something went wrong with axis scaling": no
// figure at all): it takes at most what leaves DECK_PLOT_ROOM px for the plot and its x axis,
// and scrolls past that.
const DECK_PLOT_ROOM = 110;
function keepUnderTitle(legend, asked, drawn) {
  if (!legend || legend.yref !== "container" || legend.yanchor !== "top" || typeof legend.y !== "number") return;
  if (!(asked > drawn && drawn > 0)) return;
  const top = (1 - legend.y) * asked;  // px from the figure's top
  legend.y = Math.max(0, 1 - top / drawn);
  legend.maxheight = Math.max(30, Math.min(drawn / 2, drawn - top - DECK_PLOT_ROOM));
}

function themed(text, themes, div) {
  const spec = isDark() && themes && themes.template ? darkSpec(text, themes) : JSON.parse(text);
  spec.layout = spec.layout || {};
  if (isPresenting()) {
    const { template, ...own } = spec.layout;
    raiseFonts(own);
    // Larger text than the margins a figure computed for itself: plotly sizes them here.
    for (const key of Object.keys(spec.layout)) {
      if (/^[xy]axis\d*$/.test(key)) spec.layout[key] = { ...spec.layout[key], automargin: true };
    }
    div.dataset.tcAskedHeight = String(spec.layout.height || 0);  // for refit, after a slide change
    const asked = spec.layout.height || 450;
    spec.layout.height = deckTarget(div, spec.layout.height);
    keepUnderTitle(spec.layout.legend, asked, spec.layout.height);
    div.dataset.tcDeckHeight = String(spec.layout.height);
    spec.layout.font = { ...(spec.layout.font || {}), size: DECK_FONT };
    if (besideTall(div)) compact(spec.layout);
    sharedRowWords(spec.layout);
  } else delete div.dataset.tcDeckHeight;  // refit: only for a figure drawn for the deck
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

// Plotly.react redraws what changed, and it tells by identity: a new array (tick labels, a
// trace's z) counts as new data and recomputes the whole figure, even with equal values.
// When an update changes no trace, every part of the layout equal to the one last sent is
// therefore handed back as the very object plotly holds, written into as plotly left it (an
// autorange it resolved), so that an update that only moves an outline or renames a panel
// redraws that mark, not the heatmap.
const isPlain = (x) => x !== null && typeof x === "object" && !Array.isArray(x);
function same(a, b) {
  if (a === b) return true;
  if (Array.isArray(a)) return Array.isArray(b) && a.length === b.length && a.every((x, i) => same(x, b[i]));
  if (!isPlain(a) || !isPlain(b)) return false;
  const keys = Object.keys(a);
  return keys.length === Object.keys(b).length && keys.every((k) => k in b && same(a[k], b[k]));
}
// `fresh`: the part as this update asks for it; `before`: as the last update asked for it;
// `live`: the object plotly drew from then.
function keep(fresh, before, live) {
  if (fresh === null || typeof fresh !== "object" || live === null || typeof live !== "object") return fresh;
  if (same(fresh, before)) return live;
  if (Array.isArray(fresh) && Array.isArray(before) && Array.isArray(live)) {
    return fresh.map((x, i) => keep(x, before[i], live[i]));
  }
  if (isPlain(fresh) && isPlain(before) && isPlain(live)) {
    for (const key of Object.keys(fresh)) fresh[key] = keep(fresh[key], before[key], live[key]);
  }
  return fresh;
}

// Plotly does not wrap a title: one wider than its figure is clipped at both ends (a long
// title over an explorer's third of the page, or any title at the deck's larger font). Such
// a title is drawn again at the font size that fits, and only then; one that would run under
// the toolbar is moved left of it first (titleRoom, static/column_labels.js).
async function fitTitle(Plotly, div) {
  const title = div.querySelector(".gtitle"), svg = div.querySelector(".main-svg");
  if (!title || !svg) return;
  const fit = titleRoom(div), wide = title.getBoundingClientRect().width;
  const size = parseFloat(getComputedStyle(title).fontSize) || 17;
  if (!(fit.whole > 0 && wide > 0)) return;
  const room = titleRoomFor(fit, wide, size);
  const want = wide > room ? Math.max(9, Math.floor((size * room) / wide)) : size;
  const chart = svg.getBoundingClientRect().width;
  const update = titlePlacement(fit.at((wide * want) / size), div._fullLayout || {}, chart);
  if (want !== size) update["title.font.size"] = want;
  if (Object.keys(update).length) await Plotly.relayout(div, update);
  mendToolbar(div);  // a relayout of the toolbar's way alone draws no plot ("afterplot")
  const drawn = div._fullLayout || {};
  div._tcTitleFit = { key: `${div.clientWidth}|${pageMode()}`, text: drawn.title?.text, x: drawn.title?.x,
                      xanchor: drawn.title?.xanchor, size: drawn.title?.font?.size,
                      orientation: drawn.modebar?.orientation };
}

// The title's place and the toolbar's way (fitTitle's) are put back before plotly draws an update at
// the same width, in the same mode, and the title's size too where its words are the same: found after
// each drawing, they cost every update of a figure whose title needed them a relayout (chapter 09's
// StoryExplorer bar chart, "Token 1: …" left of the toolbar, at each move of a slider). A title that
// now needs another place is moved by fitTitle, as before; a size is not carried to other words, as
// fitTitle only ever shrinks a title.
function withFittedTitle(layout, div, mode) {
  const fit = div._tcTitleFit, title = layout.title;
  if (!fit || !title || typeof title !== "object" || fit.key !== `${div.clientWidth}|${mode}`) return;
  const font = fit.text === title.text ? { font: { ...(title.font || {}), size: fit.size } } : {};
  layout.title = { ...title, x: fit.x, xanchor: fit.xanchor, ...font };
  layout.modebar = { ...(layout.modebar || {}), orientation: fit.orientation };
}

// On a slide a figure's text is DECK_FONT px, its rows of words too, and a heatmap with many rows
// gives each less than that: chapter 09's StoryExplorer drew its sixteen heads 10 px apart in
// 16 px type ("layer 0 head 3" on top of "layer 0 head 4"). Row labels are drawn as large as their
// rows allow (ROW_SPACING times their size apart), up to DECK_FONT, down to DECK_ROW_FONT, and past
// that only every k-th is kept, k as small as keeps them that size. Shrunk to 12 px all sixteen
// heads were specks on a projector beside 20 px prose; every other one reads at 16. A grid of heads
// (its words asked at 9 or 11 px, raised to 12 on a slide) grows its words too, every panel keeping
// the same rows (keptLabels); a view beside a tall one keeps its compact size at most. Only rows
// named one by one (tickmode "array") on a linear axis: a log axis's labels (log_ticks) are spaced
// for its length already. A figure whose rows a reader looks up one by one (layout.meta.every_row,
// set by figures.matrix_heatmap's every_row_label: chapter 09's StoryExplorer, whose prose names
// odd heads, "layer 0 head 1") keeps every row's label down to DECK_MIN_FONT before any is thinned.
const ROW_SPACING = 1.1, DECK_ROW_FONT = 14;
function rowLabelsFit(div) {
  const layout = div._fullLayout, update = {};
  for (const name of Object.keys(layout || {}).filter((key) => /^yaxis\d*$/.test(key))) {
    const axis = layout[name], vals = axis.tickvals;
    const span = Array.isArray(axis.range) ? Math.abs(axis.range[1] - axis.range[0]) : 0;
    const label = div.querySelector(`.${axis._id}tick text`);
    if (axis.tickmode !== "array" || axis.type !== "linear" || !Array.isArray(vals) || vals.length < 2
        || !label || !(axis._length > 0 && span > 0)) continue;
    const step = Math.min(...vals.slice(1).map((v, i) => Math.abs(v - vals[i])));
    const pitch = (axis._length * step) / span;  // px from one row's label to the next
    const size = parseFloat(getComputedStyle(label).fontSize);
    const most = besideTall(div) ? size : Math.max(size, DECK_FONT);
    if (!(pitch > 0 && size > 0) || (size === most && pitch >= ROW_SPACING * size)) continue;
    // The least k whose labels, k rows apart, are at least DECK_ROW_FONT (or ``most``, if less).
    const least = div.layout?.meta?.every_row === true ? DECK_MIN_FONT : DECK_ROW_FONT;
    const k = Math.ceil((ROW_SPACING * Math.min(least, most)) / pitch - 1e-9);
    const fits = Math.min(most, Math.floor((k * pitch) / ROW_SPACING));
    if (fits !== size) update[`${name}.tickfont.size`] = fits;
    if (k === 1) continue;
    const kept = keptLabels(vals, k, tilePeriod(div.layout, name));
    update[`${name}.tickvals`] = kept.map((i) => vals[i]);
    if (Array.isArray(axis.ticktext)) update[`${name}.ticktext`] = kept.map((i) => axis.ticktext[i]);
  }
  return update;
}

// Row labels that all begin with the same words ("layer 0 head 3", … "layer 0 head 15": a model of
// one layer) say those words once, on a slide, after the axis's title ("head (layer 0)"), and keep
// their last shared word before what tells them apart ("head 3"): a margin half as wide leaves the
// plot the width, and the shorter words read at a slide's size. ``layout``: the figure's, as sent.
function sharedRowWords(layout) {
  for (const key of Object.keys(layout).filter((k) => /^yaxis\d*$/.test(k))) {
    const axis = layout[key], text = axis?.ticktext;
    if (!Array.isArray(text) || text.length < 2 || !text.every((t) => typeof t === "string")) continue;
    const words = text.map((t) => t.split(" "));
    let n = 0;  // words shared by every label, each label keeping one word more than that
    while (words.every((w) => w.length > n + 1 && w[n] === words[0][n])) n += 1;
    if (n < 2) continue;  // the last shared word stays on every label
    const prefix = words[0].slice(0, n - 1).join(" ");
    const title = typeof axis.title === "object" && axis.title ? axis.title : { text: axis.title ?? "" };
    const named = String(title.text ?? "").trim();
    layout[key] = { ...axis, ticktext: words.map((w) => w.slice(n - 1).join(" ")),
                    title: { ...title, text: named ? `${named} (${prefix})` : prefix } };
  }
}

// Columns named word by word (a heatmap's tokens) are all drawn by plotly however narrow the view:
// 22 words in a 400 px window stood on top of each other, upright or slanted. Where they would
// overlap every k-th is kept, k as small as reads, counted from the labels the figure was sent
// with (``asked``: its layout), so that a wider view brings them all back. Same rule as
// export_theme.js's thinTicks for an exported page.
function columnLabelsFit(div, asked) {
  const layout = div._fullLayout, update = {};
  for (const name of Object.keys(layout || {}).filter((key) => /^xaxis\d*$/.test(key))) {
    const axis = layout[name], vals = asked?.[name]?.tickvals, text = asked?.[name]?.ticktext;
    const span = Array.isArray(axis.range) ? Math.abs(axis.range[1] - axis.range[0]) : 0;
    const label = div.querySelector(`.${axis._id}tick text`);
    if (axis.tickmode !== "array" || axis.type !== "linear" || !Array.isArray(vals) || vals.length < 2
        || !label || !(axis._length > 0 && span > 0)) continue;
    const step = Math.min(...vals.slice(1).map((v, i) => Math.abs(v - vals[i])));
    const k = columnStep(axis, { vals, text }, label, (axis._length * step) / span);
    // A grid of heads keeps the same words under each (keptLabels, static/column_labels.js).
    const first = tallestBar(div, axis, vals);  // the tallest bar keeps its word
    const at = keptLabels(vals, k, tilePeriod(div.layout, name), first), shown = axis.tickvals || [];
    const kept = at.map((i) => vals[i]);
    if (!k || (kept.length === shown.length && kept.every((v, i) => v === shown[i]))) continue;
    update[`${name}.tickvals`] = kept;
    if (Array.isArray(text)) update[`${name}.ticktext`] = at.map((i) => text[i]);
  }
  return update;
}

// columnStep, the least k whose labels plotly draws apart: static/column_labels.js (shared
// with the export, which widgets/view.py puts before this file).

async function fitColumnLabels(Plotly, div, asked) {
  const update = columnLabelsFit(div, asked);
  if (Object.keys(update).length) await Plotly.relayout(div, update);
}

async function fitRowLabels(Plotly, div) {
  if (!isPresenting()) return;
  const update = rowLabelsFit(div);
  if (Object.keys(update).length) await Plotly.relayout(div, update);
}

// Panel titles (annotations: chapter 03's "Q (queries)", "K (keys)", "V (values)", a head
// grid's "head 2 (A)") are as wide as their words, and panels narrow with the figure: two
// that run into each other ("Q (queries)K (keys)") are drawn on two lines, broken at the
// space nearest their middle, and if they still meet (a phone), smaller. At a width where
// they do not meet, nothing changes; a resize first puts back the titles as sent
// (``titlesAsSent``) and looks again.
function overlapping(a, b) {
  return a.left < b.right - 1 && b.left < a.right - 1 && a.top < b.bottom - 1 && b.top < a.bottom - 1;
}

function wrapped(text) {
  const spaces = [...text.matchAll(/ /g)].map((m) => m.index);
  if (!spaces.length || /<br>/i.test(text)) return null;
  const middle = text.length / 2;
  const at = spaces.reduce((best, i) => (Math.abs(i - middle) < Math.abs(best - middle) ? i : best));
  return `${text.slice(0, at)}<br>${text.slice(at + 1)}`;
}

// The annotations that overlap another, and the least scale that would part each such pair
// side by side (the distance between their centres over their half widths).
function crowdedNotes(div) {
  const notes = div.layout?.annotations || [];
  const drawn = [...div.querySelectorAll("g.annotation[data-index]")]
    .map((g) => ({ i: Number(g.dataset.index), box: g.getBoundingClientRect() }))
    .filter(({ i, box }) => notes[i] && box.width > 0);
  const crowded = new Set();
  let scale = 1;
  for (const [n, a] of drawn.entries()) {
    for (const b of drawn.slice(n + 1)) {
      if (!overlapping(a.box, b.box)) continue;
      crowded.add(a.i); crowded.add(b.i);
      const apart = Math.abs((a.box.left + a.box.right) - (b.box.left + b.box.right)) / 2;
      scale = Math.min(scale, (apart - 4) / ((a.box.width + b.box.width) / 2));
    }
  }
  return { notes, crowded, scale };
}

async function fitPanelTitles(Plotly, div) {
  let { notes, crowded } = crowdedNotes(div);
  const update = {};
  for (const i of crowded) {
    const text = wrapped(String(notes[i].text ?? ""));
    if (text) update[`annotations[${i}].text`] = text;
  }
  if (!Object.keys(update).length) return;
  div.dataset.tcTitlesFitted = "1";  // a resize puts them back first (titlesAsSent)
  await Plotly.relayout(div, update);
  let scale;
  ({ notes, crowded, scale } = crowdedNotes(div));
  if (crowded.size) {
    const sizes = {};
    for (const i of crowded) {
      const text = div.querySelector(`g.annotation[data-index="${i}"] text`);
      const size = notes[i].font?.size || parseFloat(text ? getComputedStyle(text).fontSize : "") || DECK_FONT;
      sizes[`annotations[${i}].font.size`] = Math.max(9, Math.floor(size * Math.max(scale, 0)));
    }
    await Plotly.relayout(div, sizes);
  }
  await clearOfTitle(Plotly, div);
}

// Titles on two lines reach a line higher: where they meet the figure's title, the top
// margin grows, in one relayout, by as much as clears them. A px of margin moves a panel title
// (on the plot's top) down a px and the title by part of one: half when plotly centres it in
// the margin, its y when placed on the plot, none when placed on the figure. Grown by the
// overlap alone, a centred title followed half way and it took a relayout after relayout (up
// to 4, each a redraw); export_theme.js's clearOfTitle works it out the same way.
async function clearOfTitle(Plotly, div) {
  const title = div.querySelector(".gtitle")?.getBoundingClientRect();
  if (!title || !title.width) return;
  const placed = div._fullLayout?.title || {}, notes = div.layout?.annotations || [];
  const titleMoves = typeof placed.y !== "number" ? 0.5 : placed.yref === "paper" ? placed.y : 0;
  let need = 0;
  for (const g of div.querySelectorAll("g.annotation[data-index]")) {
    const box = g.getBoundingClientRect(), note = notes[Number(g.dataset.index)] || {};
    if (!box.width || !overlapping(box, title)) continue;
    const moves = (note.yref ?? "paper") === "paper" ? (typeof note.y === "number" ? note.y : 0.5) : 0;
    if (moves - titleMoves < 0.1) continue;  // moves with the title: no margin parts them
    need = Math.max(need, (title.bottom + 4 - box.top) / (moves - titleMoves));
  }
  if (need > 0) await Plotly.relayout(div, { "margin.t": Math.ceil((div._fullLayout.margin?.t ?? 0) + need) });
}

// The annotations' texts and sizes as this figure was sent, to undo fitPanelTitles before
// measuring again.
function titlesAsSent(layout) {
  const update = {};
  (layout?.annotations || []).forEach((note, i) => {
    update[`annotations[${i}].text`] = note.text;
    update[`annotations[${i}].font.size`] = note.font?.size ?? null;
  });
  if (layout?.annotations?.length) update["margin.t"] = layout.margin?.t ?? null;
  return update;
}

async function render({ model, el }) {
  const div = document.createElement("div");
  div.className = "tc-figure";
  div.style.width = "100%";
  el.appendChild(div);
  const { Plotly, config, themes } = await loadPlotly(model);
  const CONFIG = { ...config };

  let running = false, dirty = false, alive = true, sent = null;
  let textless = null;  // on a slide: the heatmap traces drawn without their numbers (tinyCellText)
  async function draw() {
    const text = model.get("_spec");
    if (!text) return;
    const start = performance.now();
    const spec = themed(text, themes, div);
    const mode = pageMode();
    // As wide as the view is now. Left to plotly, the width was measured at the first drawing
    // and kept by later ones (react does not measure again): after Playwright's screenshots
    // of explorers taller than the window, a slide kept the page's 1100 px figures in 555 px
    // views (review 51 H1: chapter 08's attention history clipped by 545 px).
    const own = el.clientWidth;
    if (own > 0 && spec.layout.width == null) spec.layout.width = own;
    // Found for this very screen and width: a resize or leaving the deck measures again.
    const found = textless?.mode === mode && textless.width === el.clientWidth;
    const drop = isPresenting() && found ? textless : null;
    if (drop) withoutCellText(spec, drop);
    const copy = structuredClone(spec);  // what this draw asks for, before plotly writes into it
    withFittedTitle(spec.layout, div, mode);  // as fitTitle left the same title at this width
    if (sent && mode === div.dataset.tcMode && div.data) {
      // A trace that did not change is handed back whole: react skips it. Only when no trace
      // changed is the layout handed back part by part: with new data plotly recomputes the
      // whole figure anyway.
      const unchanged = spec.data.map((trace, i) => same(trace, sent.data[i]));
      spec.data = spec.data.map((trace, i) => (unchanged[i] ? div.data[i] : trace));
      if (unchanged.every(Boolean)) spec.layout = keep(spec.layout, sent.layout, div.layout);
    }
    sent = copy;
    div.dataset.tcMode = mode;
    await Plotly.react(div, spec.data, spec.layout, CONFIG);
    if (!div.dataset.tcCellText) {  // each later plot (a resize, a refitted title) too
      div.dataset.tcCellText = "1";
      div.on("plotly_afterplot", () => {
        mendToolbar(div); readableCellText(div); hideTinyCellText(div); fitCellText(Plotly, div);
      });
    }
    await fitCellText(Plotly, div);
    readableCellText(div);  // static/theme_swap.js
    hideTinyCellText(div);
    if (isPresenting()) {  // an update (a longer sentence) may shrink the numbers of another trace
      const tiny = tinyCellText(div);
      if (tiny.length) {  // drawn again at once (update's loop), without them
        const traces = [...new Set([...(drop ? drop.traces : []), ...tiny])].sort((a, b) => a - b);
        const bar = drop ? drop.bar : !div.querySelector(".colorbar");
        textless = { mode, width: el.clientWidth, traces, bar };
        dirty = true;
      }
    }
    await fitTitle(Plotly, div);
    await fitPanelTitles(Plotly, div);
    await fitRowLabels(Plotly, div);
    await fitColumnLabels(Plotly, div, copy.layout);
    div.dataset.tcDrawMs = (performance.now() - start).toFixed(1);
    div.dataset.tcRevision = String(model.get("_revision"));
    div.dataset.tcDrawnAt = String(performance.now());
    await new Promise((resolve) => requestAnimationFrame(resolve));
    div.dataset.tcPaintedAt = String(performance.now());   // read by the browser tests
  }
  async function update(first = false) {
    div.dataset.tcReceivedAt = String(performance.now());  // read by the browser tests
    if (running) { dirty = true; return; }
    running = true;
    div.dataset.tcBusy = "1";
    try {
      // An update is drawn after the messages already waiting, not at once: an explorer's
      // figures arrive as separate messages sent back to back (widgets/kit.py), and an
      // update that arrives meanwhile is drawn once, not twice (``dirty``). Not at the next
      // animation frame either: that waited up to a whole frame (16.7 ms) before drawing,
      // and chapter 05's median repaint measured 95-110 ms that way against 78-90 ms (three
      // runs each). The first drawing does wait for a frame, so that the page has laid the
      // view out and the figure takes its width from there (plotly's autosize) before the
      // ResizeObserver below starts setting it.
      await new Promise((resolve) => (first ? requestAnimationFrame(resolve) : setTimeout(resolve, 0)));
      do { dirty = false; if (alive) await draw(); } while (dirty);
    } finally { running = false; delete div.dataset.tcBusy; }
  }
  model.on("change:_spec", () => update());  // not update(...what the event passes)
  // Resize with the grid cell it sits in (plotly's `responsive` only follows the window).
  // Only a change of width counts: a redraw that changes the figure's own height would
  // otherwise trigger a second full redraw after every update.
  let width = 0;
  const observer = new ResizeObserver(() => {
    const now = el.clientWidth;
    if (now === width) return;
    width = now;
    // Not Plotly.Plots.resize: its relayout({autosize: true}) drops the figure's own height
    // (a figure of a cell shown in the deck then collapsed to nothing).
    // The title's own size and place again (null: the figure's), refitted to the new width if need be.
    if (now > 0 && div.dataset.tcRevision) {
      // Panel titles fitted to the old width, as sent (only then: a relayout of the margin
      // would redraw the whole figure).
      const undo = div.dataset.tcTitlesFitted ? titlesAsSent(sent?.layout) : {};
      delete div.dataset.tcTitlesFitted;
      const title = sent?.layout?.title || {};
      Plotly.relayout(div, { width: now, "title.font.size": title.font?.size ?? null,
                             "title.x": title.x ?? null, "title.xanchor": title.xanchor ?? null,
                             "modebar.orientation": sent?.layout?.modebar?.orientation ?? null, ...undo })
        .then(() => fitTitle(Plotly, div)).then(() => fitPanelTitles(Plotly, div))
        .then(() => fitColumnLabels(Plotly, div, sent?.layout));
    }
  });
  observer.observe(el);
  // A change of JupyterLab's theme, of presenting, or of the screen while presenting,
  // redraws the figure (only if it was drawn for another).
  // Drawn for this mode at another width (a deck started, a window resized, while no width
  // change reached the ResizeObserver): drawn again, at the view's width.
  const staleWidth = () => el.clientWidth > 0 && !!div._fullLayout
    && Math.abs(div._fullLayout.width - el.clientWidth) > 1;
  const repaint = () => {
    if (div.dataset.tcMode && (div.dataset.tcMode !== pageMode() || staleWidth())) update();
  };
  views.add(repaint);
  // The cells on screen changed (another slide, a fragment shown): drawn again where this figure
  // is on screen and its height on the slide is no longer the one it was drawn at.
  const refit = () => {
    if (!isPresenting() || !div.dataset.tcDeckHeight || div.dataset.tcMode !== pageMode()) return;
    if (!div.closest(".jp-Notebook-cell")?.classList.contains(ONSCREEN)) return;
    const height = deckTarget(div, Number(div.dataset.tcAskedHeight));
    if (String(height) !== div.dataset.tcDeckHeight || staleWidth()) update();
  };
  refits.add(refit);
  watchPage();
  followSlides();
  await update(true);
  return () => {
    alive = false; views.delete(repaint); refits.delete(refit); observer.disconnect(); Plotly.purge(div);
  };
}

export default { render };
