// Line plots as inline SVG: one path per series, numbers only (gaps where a value is missing).
// Optional: a log-scale y axis, EMA smoothing (the raw line stays, faded), a fixed x range, and
// the interactions of plotinteract.js (hover shows the nearest point; drag zooms; double-click resets).

import { formatNumber, svg } from "./dom.js";
import { interact } from "./plotinteract.js";

export const PALETTE = ["#2b74d8", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#bcbd22", "#7f7f7f"];

const WIDTH = 440;
const HEIGHT = 230;
const MARGIN = { left: 58, right: 14, top: 26, bottom: 34 };
const MAX_MARKERS = 300; // points drawn as dots too when there are few

// series: [{ name (shown), key (the data-series attribute; the name if none), color, points: [[x, y], ...], band: [[x, low, high], ...] (optional: e.g. mean ± std of
// replicates, drawn as a shaded area) }]; a point with a non-finite coordinate breaks the line.
// options: { logY, smoothing (0 ≤ weight < 1), domain: [x0, x1] shown, note, marks: [{ x, label }] (dashed
// vertical lines, e.g. where a resumed attempt begins), onZoom(x0, x1), onReset() }
export function linePlot(title, series, xLabel, options = {}) {
  const { logY = false, smoothing = 0, domain = null, note = null } = options;
  const plot = svg("svg", {
    class: "plot",
    width: WIDTH,
    height: HEIGHT,
    viewBox: `0 0 ${WIDTH} ${HEIGHT}`,
    role: "img",
    "aria-label": `${title} against ${xLabel}`,
    "data-column": title,
    "data-scale": logY ? "log" : "linear",
    "data-smoothing": smoothing,
    "data-from": domain ? domain[0] : null,
    "data-to": domain ? domain[1] : null,
  });
  plot.append(svg("text", { class: "title", x: MARGIN.left, y: 16 }, title));
  if (note) plot.append(svg("text", { class: "tick sampling", x: WIDTH - MARGIN.right, y: 16, "text-anchor": "end" }, note));
  // each series as shown: y on the chosen scale (non-positive values leave a log plot), raw and smoothed
  const shown = series.map((one) => {
    const raw = one.points.map(([x, y]) => [x, scaled(y, logY)]);
    const smooth = smoothing > 0 ? ema(one.points, smoothing).map(([x, y]) => [x, scaled(y, logY)]) : null;
    return { ...one, raw, smooth };
  });
  const inside = (point) => valid(point) && (!domain || (point[0] >= domain[0] && point[0] <= domain[1]));
  const bandPoints = (one) => (one.band || []).flatMap(([x, low, high]) => [[x, scaled(low, logY)], [x, scaled(high, logY)]]);
  const all = shown.flatMap((one) => [...one.raw, ...(one.smooth || []), ...bandPoints(one)].filter(inside));
  if (!all.length) {
    const why = logY && series.some((one) => one.points.some(valid)) ? "no positive values (log scale)" : "no finite values";
    plot.append(svg("text", { class: "tick empty-plot", x: WIDTH / 2, y: HEIGHT / 2, "text-anchor": "middle" }, why));
    if (domain) interact(plot, null, [], options);
    return plot;
  }
  const [x0, x1] = domain && domain[1] > domain[0] ? domain : extent(all.map((point) => point[0]));
  const [y0, y1] = extent(all.map((point) => point[1]));
  const right = WIDTH - MARGIN.right;
  const bottom = HEIGHT - MARGIN.bottom;
  const sx = (x) => MARGIN.left + ((x - x0) / (x1 - x0)) * (right - MARGIN.left);
  const sy = (y) => bottom - ((y - y0) / (y1 - y0)) * (bottom - MARGIN.top);
  const frame = { left: MARGIN.left, right, top: MARGIN.top, bottom, x0, x1, width: WIDTH, height: HEIGHT };

  for (const [tick, label] of logY ? logTicks(y0, y1) : ticks(y0, y1).map((t) => [t, formatNumber(t)])) {
    plot.append(svg("line", { class: "gridline", x1: MARGIN.left, x2: right, y1: sy(tick), y2: sy(tick) }));
    plot.append(svg("text", { class: "tick", x: MARGIN.left - 6, y: sy(tick) + 3, "text-anchor": "end" }, label));
  }
  for (const tick of ticks(x0, x1)) {
    plot.append(svg("text", { class: "tick", x: sx(tick), y: bottom + 14, "text-anchor": "middle" }, formatNumber(tick)));
  }
  plot.append(svg("line", { class: "axis", x1: MARGIN.left, x2: right, y1: bottom, y2: bottom }));
  plot.append(svg("line", { class: "axis", x1: MARGIN.left, x2: MARGIN.left, y1: MARGIN.top, y2: bottom }));
  plot.append(svg("text", { class: "tick", x: (MARGIN.left + right) / 2, y: HEIGHT - 4, "text-anchor": "middle" }, xLabel + (logY ? " (y: log scale)" : "")));

  const clip = `clip-${Math.random().toString(36).slice(2)}`;
  plot.append(svg("clipPath", { id: clip }, svg("rect", { x: MARGIN.left, y: MARGIN.top - 2, width: right - MARGIN.left, height: bottom - MARGIN.top + 4 })));
  const lines = svg("g", { "clip-path": `url(#${clip})` });
  plot.append(lines);
  for (const mark of options.marks || []) {
    if (!Number.isFinite(mark.x) || mark.x < x0 || mark.x > x1) continue;
    const at = sx(mark.x).toFixed(2);
    lines.append(svg("line", { class: "mark", x1: at, x2: at, y1: MARGIN.top, y2: bottom, "data-x": mark.x }));
    lines.append(svg("text", { class: "tick mark-label", x: +at + 3, y: MARGIN.top + 9 }, mark.label));
  }
  const markers = all.length <= MAX_MARKERS;
  const hoverable = [];
  for (const one of shown) {
    if (one.band && one.band.length) lines.append(bandOf(one, sx, sy, logY));
  }
  for (const one of shown) {
    const drawn = one.smooth || one.raw;
    if (one.smooth) lines.append(svg("path", { class: "raw", d: pathOf(one.raw, sx, sy).d, stroke: one.color }));
    const { d, count, pixels } = pathOf(drawn, sx, sy, one.points);
    lines.append(svg("path", { class: one.smooth ? "series smoothed" : "series", d, stroke: one.color,
      "data-series": one.key ?? one.name, "data-name": one.name, "data-points": count }));
    if (markers && !one.smooth) {
      for (const [px, py, x, y] of pixels) {
        lines.append(svg("circle", { class: "point", cx: px, cy: py, r: 2.2, fill: one.color },
          svg("title", {}, `${one.name}: ${formatNumber(x)}, ${formatNumber(y)}`)));
      }
    }
    hoverable.push({ name: one.name, color: one.color, pixels });
  }
  interact(plot, frame, hoverable, options);
  return plot;
}

// The shaded area between a band's low and high values (a polygon: along the highs, back along the lows).
function bandOf(one, sx, sy, logY) {
  const kept = one.band.filter(([x, low, high]) => valid([x, scaled(low, logY)]) && valid([x, scaled(high, logY)]));
  const along = kept.map(([x, , high]) => `${sx(x).toFixed(2)},${sy(scaled(high, logY)).toFixed(2)}`);
  const back = kept.slice().reverse().map(([x, low]) => `${sx(x).toFixed(2)},${sy(scaled(low, logY)).toFixed(2)}`);
  return svg("polygon", { class: "band", points: [...along, ...back].join(" "), fill: one.color, "data-name": one.name });
}

function valid(point) {
  return Number.isFinite(point[0]) && Number.isFinite(point[1]);
}

function scaled(y, logY) {
  if (!logY) return y;
  return Number.isFinite(y) && y > 0 ? Math.log10(y) : NaN;
}

// Exponential moving average over the finite points, debiased at the start (as TensorBoard does);
// a missing value keeps its gap.
export function ema(points, weight) {
  let last = 0;
  let seen = 0;
  return points.map(([x, y]) => {
    if (!Number.isFinite(y)) return [x, y];
    last = last * weight + (1 - weight) * y;
    seen += 1;
    return [x, last / (1 - weight ** seen)];
  });
}

// The SVG path of the points; `pixels` are [px, py, x, y] with y as stored (for hover labels).
function pathOf(points, sx, sy, original = null) {
  let d = "";
  let pen = "M";
  let count = 0;
  const pixels = [];
  points.forEach((point, index) => {
    if (!valid(point)) {
      pen = "M";
      return;
    }
    const [px, py] = [+sx(point[0]).toFixed(2), +sy(point[1]).toFixed(2)];
    d += `${pen}${px} ${py} `;
    pen = "L";
    count += 1;
    pixels.push([px, py, point[0], original ? original[index][1] : point[1]]);
  });
  return { d: d.trim(), count, pixels };
}

function extent(values) {
  let low = Infinity;
  let high = -Infinity;
  for (const value of values) {
    if (value < low) low = value;
    if (value > high) high = value;
  }
  if (high - low <= Math.max(Math.abs(low), Math.abs(high)) * 1e-9) { // one value (up to rounding): pad it
    const pad = low === 0 && high === 0 ? 1 : Math.max(Math.abs(low), Math.abs(high)) * 0.1;
    low -= pad;
    high += pad;
  }
  return [low, high];
}

function ticks(low, high, wanted = 5) {
  const raw = (high - low) / wanted;
  const magnitude = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * magnitude).find((s) => raw <= s) || 10 * magnitude;
  const found = [];
  const first = Math.ceil(low / step);
  for (let k = first; k * step <= high + step * 1e-9 && k - first <= 4 * wanted; k++) { // by count: never stuck
    found.push(+(k * step).toPrecision(12));
  }
  return found;
}

// Ticks of a log axis given in log10 units: [position, label]; powers of ten when the range spans them.
function logTicks(low, high) {
  if (high - low >= 1) {
    const step = Math.max(1, Math.ceil((high - low) / 5));
    const found = [];
    for (let power = Math.ceil(low); power <= high + 1e-9; power += step) found.push([power, formatNumber(10 ** power)]);
    return found;
  }
  return ticks(10 ** low, 10 ** high).filter((value) => value > 0).map((value) => [Math.log10(value), formatNumber(value)]);
}
