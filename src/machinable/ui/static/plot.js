// Line plots as inline SVG: one path per series, numbers only (gaps where a value is missing).

import { formatNumber, svg } from "./dom.js";

export const PALETTE = ["#2b74d8", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#bcbd22", "#7f7f7f"];

const WIDTH = 440;
const HEIGHT = 230;
const MARGIN = { left: 58, right: 14, top: 26, bottom: 34 };
const MAX_MARKERS = 300; // points drawn as dots too when there are few

// series: [{ name, color, points: [[x, y], ...] }]; a point with a non-finite coordinate breaks the line.
export function linePlot(title, series, xLabel) {
  const valid = (point) => Number.isFinite(point[0]) && Number.isFinite(point[1]);
  const all = series.flatMap((one) => one.points.filter(valid));
  const plot = svg("svg", {
    class: "plot",
    width: WIDTH,
    height: HEIGHT,
    viewBox: `0 0 ${WIDTH} ${HEIGHT}`,
    role: "img",
    "aria-label": `${title} against ${xLabel}`,
    "data-column": title,
  });
  plot.append(svg("text", { class: "title", x: MARGIN.left, y: 16 }, title));
  if (!all.length) {
    plot.append(svg("text", { class: "tick", x: WIDTH / 2, y: HEIGHT / 2, "text-anchor": "middle" }, "no finite values"));
    return plot;
  }
  const [x0, x1] = extent(all.map((point) => point[0]));
  const [y0, y1] = extent(all.map((point) => point[1]));
  const right = WIDTH - MARGIN.right;
  const bottom = HEIGHT - MARGIN.bottom;
  const sx = (x) => MARGIN.left + ((x - x0) / (x1 - x0)) * (right - MARGIN.left);
  const sy = (y) => bottom - ((y - y0) / (y1 - y0)) * (bottom - MARGIN.top);

  for (const tick of ticks(y0, y1)) {
    plot.append(svg("line", { class: "gridline", x1: MARGIN.left, x2: right, y1: sy(tick), y2: sy(tick) }));
    plot.append(svg("text", { class: "tick", x: MARGIN.left - 6, y: sy(tick) + 3, "text-anchor": "end" }, formatNumber(tick)));
  }
  for (const tick of ticks(x0, x1)) {
    plot.append(svg("text", { class: "tick", x: sx(tick), y: bottom + 14, "text-anchor": "middle" }, formatNumber(tick)));
  }
  plot.append(svg("line", { class: "axis", x1: MARGIN.left, x2: right, y1: bottom, y2: bottom }));
  plot.append(svg("line", { class: "axis", x1: MARGIN.left, x2: MARGIN.left, y1: MARGIN.top, y2: bottom }));
  plot.append(svg("text", { class: "tick", x: (MARGIN.left + right) / 2, y: HEIGHT - 4, "text-anchor": "middle" }, xLabel));

  const markers = all.length <= MAX_MARKERS;
  for (const one of series) {
    let path = "";
    let pen = "M";
    let count = 0;
    const dots = [];
    for (const point of one.points) {
      if (!valid(point)) {
        pen = "M";
        continue;
      }
      const [x, y] = [sx(point[0]).toFixed(2), sy(point[1]).toFixed(2)];
      path += `${pen}${x} ${y} `;
      pen = "L";
      count += 1;
      if (markers) {
        dots.push(svg("circle", { class: "point", cx: x, cy: y, r: 2.2, fill: one.color },
          svg("title", {}, `${one.name}: ${formatNumber(point[0])}, ${formatNumber(point[1])}`)));
      }
    }
    plot.append(svg("path", { class: "series", d: path.trim(), stroke: one.color, "data-series": one.name, "data-points": count }));
    plot.append(...dots);
  }
  return plot;
}

function extent(values) {
  let low = Infinity;
  let high = -Infinity;
  for (const value of values) {
    if (value < low) low = value;
    if (value > high) high = value;
  }
  if (low === high) {
    const pad = low === 0 ? 1 : Math.abs(low) * 0.1;
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
  for (let value = Math.ceil(low / step) * step; value <= high + step * 1e-9; value += step) {
    found.push(+value.toPrecision(12));
  }
  return found;
}
