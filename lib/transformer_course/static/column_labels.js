// How many of an axis's words fit side by side: the column-label rule shared by the live view
// (widgets/view.py puts this file after static/theme_swap.js and before static/figure_view.js:
// columnLabelsFit) and the exported pages (export/page.py: after theme_swap.js, before
// static/export_theme.js: thinTicks). One copy, so the two cannot drift apart: a page and the
// notebook it came from thin the same words at the same width.
//
// Only function declarations here, no top-level variable: the export inlines this file into a
// classic script, where a `let` would be a page-wide binding.

// Columns: the least k whose labels plotly draws apart. It stands them upright where no two
// neighbours touch (plotly's own test: their widths, 2 px apart), and slants them otherwise
// (its "auto" angle: 30°, or 90° when closer), which reads when they are their font size
// apart across the slant. Measured on the axis's own labels (``own``: {vals, text}) whatever
// the chart shows now, so that k does not depend on the angle plotly chose for the labels drawn
// last: judged by its widest word, a chart drawn upright at every other word kept 6 of its 11
// words at 1280 px where all 11 read slanted (chapter 05's "Mean of the 8 heads shown").
// ``label``: one tick label as drawn (its font); ``pitch``: px between two of the own labels.
// 0 where there is nothing to measure.
function columnStep(axis, own, label, pitch) {
  const style = getComputedStyle(label), size = parseFloat(style.fontSize);
  if (!(pitch > 0 && size > 0)) return 0;
  const widths = labelWidths(own, style);
  const fixed = typeof axis.tickangle === "number" ? Math.abs(axis.tickangle) % 180 : null;
  const upright = (k) => widths.every((w, i) => i % k || i + k >= widths.length
    || (w + widths[i + k]) / 2 + 2 <= k * pitch);
  // Across the slant, two labels' baselines lie k·pitch·sin(angle) apart.
  const slanted = (k, angle) => k * pitch * Math.sin((angle * Math.PI) / 180) >= size - 1e-6;
  for (let k = 1; k <= own.vals.length; k++) {
    if (fixed === 0 ? upright(k) : fixed !== null ? slanted(k, fixed)
      : upright(k) || slanted(k, autoAngle(axis, k * pitch, size * widths.lines))) return k;
  }
  return own.vals.length;
}

// The angle plotly slants labels ``gap`` px apart at (its "auto": the first of autotickangles
// whose labels clear each other by 1.25 lines of text, else the steepest), in degrees.
function autoAngle(axis, gap, height) {
  const angles = (Array.isArray(axis.autotickangles) ? axis.autotickangles : [0, 30, 90])
    .map((a) => (a * Math.PI) / 180);
  const room = gap / Math.hypot(gap, 1.25 * height);
  const steep = angles.reduce((a, b) => (Math.abs(Math.cos(a)) < Math.abs(Math.cos(b)) ? a : b));
  const angle = angles.find((a) => Math.abs(Math.cos(a)) <= room) ?? steep;
  return Math.abs((angle * 180) / Math.PI) % 180;
}

// A label's text as plotly draws it: its own tags (b, i, sub …) are markup and take no room,
// any other "<…>" is text (a token such as <pad> or <eos>), and entities become their characters
// (as_text's "&lt;"): measured as drawn, <pad> is five characters wide, not none.
function drawnText(line) {
  return line.split(/(<[^<>]*>)/)
    .filter((part) => !/^<\/?(b|i|em|sup|sub|s|u|a|span)\b[^>]*>$/i.test(part))
    .join("")
    .replace(/&lt;/g, "<").replace(/&gt;/g, ">").replace(/&#(\d+);/g, (_, n) => String.fromCodePoint(+n))
    .replace(/&amp;/g, "&");
}

// Each of the axis's own labels' width in px, in the font it is drawn in (a label not drawn
// now, thinned out, is measured all the same); a label of several lines: its longest.
// ``widths.lines``: the most lines a label has. One canvas measures them all, made once.
function labelWidths(own, style) {
  const ruler = (labelWidths.ruler ||= document.createElement("canvas").getContext("2d"));
  ruler.font = `${style.fontStyle} ${style.fontWeight} ${style.fontSize} ${style.fontFamily}`;
  const words = (Array.isArray(own.text) ? own.text : own.vals)
    .map((t) => String(t ?? "").split(/<br\s*\/?>/i).map(drawnText));
  const widths = words.map((lines) => Math.max(...lines.map((line) => ruler.measureText(line).width)));
  widths.lines = Math.max(1, ...words.map((lines) => lines.length));
  return widths;
}

// The positions of an axis's own labels (``vals``) kept when every k-th is: where the axis runs
// along a grid of panels, ``period`` labels each (figures.head_grid_figure's heads: layout.meta
// names its columns and rows), every panel keeps the same words, counted from its first. Counted
// over the whole axis, chapter 08's second head showed the odd words ("pizza out the and tasted")
// where the first showed the even ones, as if its columns were other words. A panel's last kept
// label closer than k steps to the next panel's first gives way, so no two labels touch.
// ``first``: the label every k-th is counted from (``tallestBar``), 0 by default.
function keptLabels(vals, k, period, first = 0) {
  const all = vals.map((_, i) => i);
  if (!(k > 1 && period > 1 && vals.length > period && vals.length % period === 0)) {
    return all.filter((i) => (i - (k > 1 ? first % k : 0)) % (k || 1) === 0);
  }
  const step = Math.min(...vals.slice(1).map((v, i) => Math.abs(v - vals[i])));
  return all.filter((i) => {
    const next = i - (i % period) + period;  // the next panel's first label
    return (i % period) % k === 0 && !(next < vals.length && Math.abs(vals[next] - vals[i]) < k * step - 1e-9);
  });
}

// How many labels a panel has along the axis ``name`` (the words under one head, or beside it)
// where the figure is a grid of panels on one pair of axes (layout.meta.tiles, columns and rows:
// figures.head_grid_figure); 0 for any other figure.
function tilePeriod(layout, name) {
  const meta = (layout && layout.meta) || {};
  const n = /^xaxis$/.test(name) ? meta.columns : /^yaxis$/.test(name) ? meta.rows : 0;
  return Array.isArray(meta.tiles) && Number.isInteger(n) && n > 0 ? n : 0;
}

// Where among an axis's own labels (``vals``) the tallest bar of the chart ``div`` stands, on the
// axis ``axis`` (plotly's full axis): thinned, its word is kept. Counted from the first, chapter
// 09's "attention from he" lost the word under its one tall bar ("squatch", 0.94) in a phone's
// window, and kept the words of bars too low to see. 0 where the chart has no bar on that axis.
function tallestBar(div, axis, vals) {
  const bars = (div._fullData || []).filter((t) => t.type === "bar" && t.visible !== false
    && (t.xaxis || "x") === axis._id && (t.orientation || "v") === "v" && listed(t.y));
  let best = null;
  for (const trace of bars) {
    Array.from(trace.y).forEach((y, i) => {
      const x = listed(trace.x) ? trace.x[i] : i;
      if (Number.isFinite(+y) && (best === null || Math.abs(+y) > best.y)) best = { y: Math.abs(+y), x };
    });
  }
  const at = best === null ? -1 : vals.findIndex((v) => v === best.x || +v === +best.x);
  return Math.max(0, at);
}

// An array as plotly holds one: a list, or a typed array (numbers sent packed, as figure JSON has them).
function listed(values) {
  return Array.isArray(values) || ArrayBuffer.isView(values);
}

// Plotly's toolbar (zoom, pan, PNG: its "modebar", 7 buttons, 192 px by 23 across) shows over the
// chart's top right corner while the mouse is over the chart, and hid the end of a long centred
// title there (a 700 px half-slide figure lost "…figure to its end" under it). Where the title's
// line meets the toolbar, the title keeps to the room left of it: centred while that clears the
// toolbar, else ending 8 px before it. Where that room is less than the title needs (a narrow
// chart: a third of a slide, 350 px, left 134 px of it, a 22 px title drawn at 9 px), the toolbar
// stands upright along the right edge instead (plotly's modebar.orientation "v": a column per
// group of buttons, 72 px wide), over the plot's corner rather than the words. Only a title wider
// than the room left then is drawn smaller (the callers: figure_view.js's and export_theme.js's
// fitTitle). ``div``: the chart. Returns {whole, at}: the px a title may take with no toolbar,
// and at(width) → {room, x, xanchor, orientation}, for a title ``width`` px wide: the px it may
// take, where it goes (x in the chart's width, as plotly's title.x), which way the toolbar stands.
function titleRoom(div) {
  const svg = div.querySelector(".main-svg").getBoundingClientRect();
  const title = div.querySelector(".gtitle").getBoundingClientRect();
  const whole = svg.width - 16, centred = { x: 0.5, xanchor: "center" };
  const bar = toolbarBox(div);
  if (!bar || title.top >= bar.top + bar.height || title.bottom <= bar.top) {
    return { whole, at: () => ({ room: whole, ...centred, orientation: "h" }) };  // clear of it
  }
  // Centred where that clears the toolbar, or where nothing would (a title too long even at 9 px:
  // its ends stay inside the chart); else ending 8 px before the toolbar.
  const spot = (end, orientation, width) => ({ room: Math.min(whole, end - 8), orientation,
    ...(svg.width / 2 + width / 2 <= end || width > end - 8 ? centred
      : { x: end / svg.width, xanchor: "right" }) });
  const across = bar.right - svg.left - bar.width - 8, down = bar.right - svg.left - bar.upright - 8;
  const at = (width) => (width <= across - 8 || svg.width / 2 + width / 2 <= across
    ? spot(across, "h", width) : spot(down, "v", width));
  return { whole, at };
}

// The toolbar of the chart ``div`` as plotly draws it across (its own way, unless told "v"):
// {right, top} (its top right corner, px on the page), {width, height} across, and ``upright``, its
// width standing ("v": a column per group, each about a button wide, as tall as the bar across);
// measured across once (``div._tcToolbar``), as its buttons never change. null: no toolbar.
function toolbarBox(div) {
  const buttons = [...div.querySelectorAll(".modebar-btn")].map((b) => b.getBoundingClientRect())
    .filter((r) => r.width > 0);
  if (!buttons.length) return null;
  const left = Math.min(...buttons.map((r) => r.left)), right = Math.max(...buttons.map((r) => r.right));
  const top = Math.min(...buttons.map((r) => r.top)), bottom = Math.max(...buttons.map((r) => r.bottom));
  if ((div._fullLayout?.modebar?.orientation ?? "h") === "h") {
    const groups = div.querySelectorAll(".modebar-group").length || 1, height = bottom - top;
    div._tcToolbar = { width: right - left, height, upright: groups * (height + 4) };
  }
  return div._tcToolbar ? { ...div._tcToolbar, right, top } : null;
}

// The px a title ``width`` px wide at ``size`` px keeps to (``fit``: titleRoom's answer): the
// room left of the toolbar, unless the title would be drawn smaller than 12 px there (or than it
// fits the whole chart at, if less): a phone's chart (354 px) took a 13 px title down to 10 px, a
// speck for a toolbar that shows only while a finger is on the chart. Then the whole chart's
// width: at() leaves a title wider than its room centred, under the end of the upright toolbar.
function titleRoomFor(fit, width, size) {
  const base = width > fit.whole ? Math.max(9, Math.floor((size * fit.whole) / width)) : size;
  const spot = fit.at((width * base) / size);
  if ((width * base) / size <= spot.room) return spot.room;
  return Math.max(9, Math.floor((size * spot.room) / width)) >= Math.min(base, 12) ? spot.room : fit.whole;
}

// The title's placement ``at`` (titleRoom's) as a relayout, or {} where the chart's title and
// toolbar (``now``: plotly's full layout) are there already: centred is x 0.5, anchored "auto" or
// "center". ``width``: the chart's, px.
function titlePlacement(at, now, width) {
  const update = {}, was = now.title || {};
  const centred = (t) => Math.abs((t.x ?? 0.5) - 0.5) < 1e-3
    && ["auto", "center", undefined].includes(t.xanchor);
  if (!(centred(at) ? centred(was) : was.xanchor === at.xanchor && Math.abs(at.x - was.x) * width < 1)) {
    Object.assign(update, { "title.x": at.x, "title.xanchor": at.xanchor });
  }
  if ((now.modebar?.orientation ?? "h") !== at.orientation) update["modebar.orientation"] = at.orientation;
  return update;
}

// Plotly gives the toolbar's container `width: 100%` when it draws the toolbar across, and a
// height (the plot's) with no width when it stands it upright ("v"), but does not give the width
// back when the toolbar turns across again: in a container 0 px wide its groups stacked, and their
// buttons ran 42 px past the chart (an exported chapter 05, 800 px wide and then 1280, scrolled
// sideways). Called after every plot of the chart ``div``.
function mendToolbar(div) {
  const box = div.querySelector(".modebar-container");
  if (!box || (div._fullLayout?.modebar?.orientation ?? "h") !== "h") return;
  if (box.style.width !== "100%") box.style.width = "100%";
  if (box.style.height) box.style.height = "";
}
