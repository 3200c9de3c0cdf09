// What a sweep's runs look like side by side: replicate groups (mean line with a ± std band) and a
// scatter of a summary metric against a config key.

import { formatNumber, h, select, svg } from "./dom.js";

// Runs that differ only in their seed share `replicates`: [{ key, label, members: [experiment, ...] }]
export function replicateGroups(experiments) {
  const groups = new Map();
  for (const experiment of experiments) {
    const group = groups.get(experiment.replicates) || { key: experiment.replicates, label: experiment.label, members: [] };
    group.members.push(experiment);
    groups.set(experiment.replicates, group);
  }
  return [...groups.values()];
}

// The mean of the members' points at each x all of them have, and the band of mean ± std there.
export function meanBand(pointLists) {
  const byX = new Map();
  for (const points of pointLists) {
    for (const [x, y] of points) {
      if (!Number.isFinite(x) || !Number.isFinite(y)) continue;
      (byX.get(x) || byX.set(x, []).get(x)).push(y);
    }
  }
  const xs = [...byX.keys()].filter((x) => byX.get(x).length === pointLists.length).sort((a, b) => a - b);
  const points = [];
  const band = [];
  for (const x of xs) {
    const ys = byX.get(x);
    const mean = ys.reduce((a, b) => a + b, 0) / ys.length;
    const std = ys.length > 1 ? Math.sqrt(ys.reduce((a, y) => a + (y - mean) ** 2, 0) / (ys.length - 1)) : 0;
    points.push([x, mean]);
    band.push([x, mean - std, mean + std]);
  }
  return { points, band };
}

const WIDTH = 440;
const HEIGHT = 260;
const MARGIN = { left: 58, right: 14, top: 20, bottom: 40 };

// A summary metric (y) against a config key (x), one dot per run, chosen with two selects.
export function scatterPanel(experiments, configKeys, colors) {
  const metrics = [...new Set(experiments.flatMap((experiment) => Object.keys(experiment.summary || {})))]
    .filter((name) => experiments.some((experiment) => Number.isFinite(experiment.summary[name])));
  if (!metrics.length || !configKeys.length) return h("p", { class: "empty", text: "No summary metrics to plot against the config." });
  let metric = metrics[metrics.length - 1];
  let key = configKeys[0];
  const area = h("div", { id: "scatter-area" });
  const draw = () => area.replaceChildren(scatter(experiments, key, metric, colors));
  draw();
  return h("div", {},
    h("div", { class: "toolbar" },
      h("label", {}, "y: summary ", select("scatter-metric", metrics.map((m) => [m, m]), metric, (event) => { metric = event.target.value; draw(); })),
      h("label", {}, "x: config ", select("scatter-key", configKeys.map((k) => [k, k]), key, (event) => { key = event.target.value; draw(); }))),
    area);
}

function scatter(experiments, key, metric, colors) {
  const points = experiments
    .map((experiment) => ({ experiment, x: experiment.config[key], y: experiment.summary[metric] }))
    .filter((point) => Number.isFinite(point.y) && point.x !== undefined);
  const numericX = points.every((point) => Number.isFinite(point.x));
  const categories = numericX ? [] : [...new Set(points.map((point) => JSON.stringify(point.x)))];
  const xOf = (point) => (numericX ? point.x : categories.indexOf(JSON.stringify(point.x)));
  const [x0, x1] = padded(points.map(xOf));
  const [y0, y1] = padded(points.map((point) => point.y));
  const right = WIDTH - MARGIN.right;
  const bottom = HEIGHT - MARGIN.bottom;
  const sx = (x) => MARGIN.left + ((x - x0) / (x1 - x0)) * (right - MARGIN.left);
  const sy = (y) => bottom - ((y - y0) / (y1 - y0)) * (bottom - MARGIN.top);
  const plot = svg("svg", { class: "plot scatter", id: "compare-scatter", width: WIDTH, height: HEIGHT,
    viewBox: `0 0 ${WIDTH} ${HEIGHT}`, role: "img", "aria-label": `${metric} against ${key}`, "data-x": key, "data-y": metric });
  plot.append(svg("line", { class: "axis", x1: MARGIN.left, x2: right, y1: bottom, y2: bottom }));
  plot.append(svg("line", { class: "axis", x1: MARGIN.left, x2: MARGIN.left, y1: MARGIN.top, y2: bottom }));
  plot.append(svg("text", { class: "tick", x: (MARGIN.left + right) / 2, y: HEIGHT - 6, "text-anchor": "middle" }, key));
  plot.append(svg("text", { class: "tick", x: 4, y: 12 }, `summary.${metric}`));
  for (const y of [y0, (y0 + y1) / 2, y1]) {
    plot.append(svg("text", { class: "tick", x: MARGIN.left - 6, y: sy(y) + 3, "text-anchor": "end" }, formatNumber(y)));
  }
  const xTicks = numericX ? [x0, (x0 + x1) / 2, x1].map((x) => [x, formatNumber(x)]) : categories.map((c, i) => [i, JSON.parse(c)]);
  for (const [x, label] of xTicks) {
    plot.append(svg("text", { class: "tick", x: sx(x), y: bottom + 14, "text-anchor": "middle" }, String(label)));
  }
  for (const point of points) {
    plot.append(svg("circle", { cx: sx(xOf(point)).toFixed(2), cy: sy(point.y).toFixed(2), r: 4,
      fill: colors.get(point.experiment.id), "data-id": point.experiment.id },
    svg("title", {}, `${point.experiment.label}: ${metric} = ${formatNumber(point.y)}`)));
  }
  return plot;
}

function padded(values) {
  let low = Math.min(...values);
  let high = Math.max(...values);
  if (!Number.isFinite(low)) return [0, 1];
  const pad = high > low ? (high - low) * 0.08 : Math.abs(high) * 0.1 || 1;
  return [low - pad, high + pad];
}

// Parallel coordinates: one vertical axis per differing config key, then the chosen summary metric;
// each run a line through its values (numbers scaled to their range, texts spaced evenly).
export function parallelCoordinates(experiments, configKeys, colors) {
  const metrics = [...new Set(experiments.flatMap((experiment) => Object.keys(experiment.summary || {})))]
    .filter((name) => experiments.some((experiment) => Number.isFinite(experiment.summary[name])));
  const axes = [...configKeys.map((key) => ({ name: key, value: (experiment) => experiment.config[key] }))];
  if (metrics.length) {
    const metric = metrics[metrics.length - 1];
    axes.push({ name: `summary.${metric}`, value: (experiment) => experiment.summary[metric] });
  }
  if (axes.length < 2) return h("p", { class: "empty", text: "Parallel coordinates need two or more differing keys or metrics." });
  const width = Math.max(440, 140 * axes.length);
  const top = 30;
  const bottom = HEIGHT - 30;
  const xOf = (index) => MARGIN.left + (index * (width - MARGIN.left - MARGIN.right)) / (axes.length - 1);
  const scales = axes.map((axis) => scaleOf(experiments.map(axis.value), top, bottom));
  const plot = svg("svg", { class: "plot parallel", id: "compare-parallel", width, height: HEIGHT, viewBox: `0 0 ${width} ${HEIGHT}`,
    role: "img", "aria-label": `parallel coordinates of ${axes.map((axis) => axis.name).join(", ")}` });
  axes.forEach((axis, index) => {
    plot.append(svg("line", { class: "axis", x1: xOf(index), x2: xOf(index), y1: top, y2: bottom, "data-axis": axis.name }));
    plot.append(svg("text", { class: "tick", x: xOf(index), y: top - 10, "text-anchor": "middle" }, axis.name));
    for (const [y, label] of scales[index].ticks) {
      plot.append(svg("text", { class: "tick", x: xOf(index) - 4, y: y + 3, "text-anchor": "end" }, label));
    }
  });
  for (const experiment of experiments) {
    const points = axes.map((axis, index) => [xOf(index), scales[index].y(axis.value(experiment))]);
    if (points.some(([, y]) => !Number.isFinite(y))) continue;
    plot.append(svg("polyline", { points: points.map(([x, y]) => `${x.toFixed(1)},${y.toFixed(1)}`).join(" "),
      fill: "none", stroke: colors.get(experiment.id), "stroke-width": 1.5, "data-id": experiment.id },
    svg("title", {}, experiment.label)));
  }
  return plot;
}

// y of a value on an axis from `top` to `bottom`: numbers by their range, anything else by its order.
function scaleOf(values, top, bottom) {
  const numeric = values.every((value) => value === undefined || Number.isFinite(value));
  if (numeric) {
    const [low, high] = padded(values.filter(Number.isFinite));
    const y = (value) => (Number.isFinite(value) ? bottom - ((value - low) / (high - low)) * (bottom - top) : NaN);
    return { y, ticks: [low, (low + high) / 2, high].map((value) => [y(value), formatNumber(value)]) };
  }
  const categories = [...new Set(values.filter((value) => value !== undefined).map((value) => JSON.stringify(value)))].sort();
  const step = categories.length > 1 ? (bottom - top) / (categories.length - 1) : 0;
  const y = (value) => (value === undefined ? NaN : bottom - categories.indexOf(JSON.stringify(value)) * step);
  return { y, ticks: categories.map((category, index) => [bottom - index * step, String(JSON.parse(category))]) };
}
