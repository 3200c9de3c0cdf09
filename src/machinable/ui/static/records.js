// Records of one experiment: a scope and x-axis choice, line plots of the numeric columns, and a table.

import { formatNumber, getJSON, h, select } from "./dom.js";
import { linePlot, PALETTE } from "./plot.js";

const ROW = "";

export function defaultX(numeric) {
  return ["step", "iteration", "epoch"].find((name) => numeric.includes(name)) || ROW;
}

export function xOptions(numeric) {
  return [[ROW, "row index"], ...numeric.filter((c) => c !== "_timestamp").map((c) => [c, c])];
}

export function plottedColumns(numeric, xColumn) {
  return numeric.filter((column) => column !== "_timestamp" && column !== xColumn);
}

// The server sends the last rows and each numeric column downsampled against `xColumn` (null: its
// default), only within `range` ([from, to]) when one is given.
export function recordsUrl(id, scope, xColumn = null, range = null, attempt = null) {
  const x = xColumn === null ? "" : `&x=${encodeURIComponent(xColumn)}`;
  const within = range ? `&from=${encodeURIComponent(range[0])}&to=${encodeURIComponent(range[1])}` : "";
  const which = attempt ? `&attempt=${encodeURIComponent(attempt)}` : "";
  return `/api/experiments/${encodeURIComponent(id)}/records?scope=${encodeURIComponent(scope)}${x}${within}${which}`;
}

// "1,000,000 rows · min/max per 1,024" when the points stand for more rows than they are.
export function samplingNote(sampled) {
  if (!sampled || !sampled.rows) return null;
  const rows = sampled.rows.toLocaleString("en-US");
  return sampled.points < sampled.rows ? `${rows} rows · min/max per ${sampled.bucket.toLocaleString("en-US")}` : `${rows} rows`;
}

// The log-scale checkbox and the smoothing slider (percent) of a set of plots: they change `view`
// ({ logY, smoothing }) and call `redraw()`. Element ids start with `prefix`.
export function viewControls(prefix, view, redraw) {
  const weight = h("output", { id: `${prefix}smoothing-value`, text: view.smoothing.toFixed(2) });
  return [
    h("label", {}, h("input", { type: "checkbox", id: `${prefix}log-y`, checked: view.logY, onchange: (event) => {
      view.logY = event.target.checked;
      redraw();
    } }), " log y"),
    h("label", { title: "weight of the exponential moving average, applied to the points shown" }, "Smoothing ",
      h("input", { type: "range", id: `${prefix}smoothing`, min: 0, max: 99, step: 1, value: Math.round(view.smoothing * 100), oninput: (event) => {
        view.smoothing = Number(event.target.value) / 100;
        weight.textContent = view.smoothing.toFixed(2);
        redraw();
      } }), " ", weight),
  ];
}

// Fills `container`; returns { reload() } to refresh the rows of the current scope.
export function recordsView(container, id, scopes) {
  let scope = scopes[0];
  let xColumn = null;
  let range = null; // the zoomed x range, null for all rows
  const view = { logY: false, smoothing: 0 }; // how the plots are drawn, without asking the server again
  let attempt = null; // null: the rows of every attempt (a resume marked where each begins); "latest": its rows only
  let sequence = 0;
  let data = null;
  const controls = h("div", { class: "toolbar", id: "records-controls" });
  const plots = h("div", { class: "plots", id: "plots" });
  const note = h("p", { class: "muted", id: "records-note" });
  const table = h("div", { class: "scroll rows-box" });
  container.append(controls, plots, note, table);

  async function reload() {
    const mine = ++sequence;
    plots.dataset.loading = "true";
    let fresh;
    try {
      fresh = await getJSON(recordsUrl(id, scope, xColumn, range, attempt));
    } catch (error) {
      if (mine === sequence) {
        delete plots.dataset.loading;
        note.textContent = `Cannot read the records: ${error.message}`;
      }
      return;
    }
    if (mine !== sequence) return;
    data = fresh;
    xColumn = data.x;
    delete plots.dataset.loading;
    renderControls();
    draw();
    note.textContent = `${data.total.toLocaleString("en-US")} row${data.total === 1 ? "" : "s"} in scope "${scope}"` +
      (range ? `; plots show the ${data.in_range.toLocaleString("en-US")} with ${xColumn || "row index"} in ${formatNumber(range[0])}…${formatNumber(range[1])} (double-click a plot for all)` : "") +
      (data.rows.length < data.total ? `; the table shows the last ${data.rows.length}` : "") +
      (data.skipped ? `; ${data.skipped} damaged line${data.skipped === 1 ? " was" : "s were"} skipped` : "");
    table.replaceChildren(rowsTable(data.columns, data.rows, data.first_row));
  }

  function renderControls() {
    controls.replaceChildren(...[
      h("label", {}, "Scope ", select("scope", scopes.map((s) => [s, s]), scope, (event) => {
        scope = event.target.value;
        xColumn = null;
        range = null;
        reload();
      })),
      h("label", {}, "x axis ", select("x-axis", xOptions(data.numeric), xColumn, (event) => {
        xColumn = event.target.value;
        range = null;
        reload();
      })),
      ...viewControls("", view, draw),
      (data.attempts || []).length > 1 ? h("label", { title: "a resumed run: its attempts' rows, or only the latest's" },
        h("input", { type: "checkbox", id: "latest-attempt", checked: attempt === "latest", onchange: (event) => {
          attempt = event.target.checked ? "latest" : null;
          range = null;
          reload();
        } }), " latest attempt only") : null,
      range ? h("button", { id: "reset-zoom", onclick: () => zoom(null) }, "Show all rows") : null,
    ].filter(Boolean)); // replaceChildren would show a null as the text "null"
  }

  function zoom(next) {
    range = next;
    reload();
  }

  function draw() {
    const columns = plottedColumns(data.numeric, xColumn);
    const xLabel = xColumn || "row index";
    plots.replaceChildren(
      ...columns.map((column) =>
        linePlot(column, [{ name: id, color: PALETTE[0], points: data.series[column] }], xLabel, {
          ...view,
          domain: range,
          marks: (data.resumes || []).map((resume) => ({ x: resume.x, label: `attempt ${resume.attempt}` })),
          note: samplingNote(data.sampled && data.sampled[column]),
          onZoom: (a, b) => zoom([a, b]),
          onReset: () => {
            if (range) zoom(null);
          },
        }),
      ),
    );
    if (!columns.length) plots.replaceChildren(h("p", { class: "empty", text: "No numeric columns to plot." }));
  }

  reload();
  return { reload };
}

function rowsTable(columns, rows, first) {
  const visible = columns.filter((c) => c !== "_timestamp");
  const timed = columns.includes("_timestamp");
  return h(
    "table",
    { id: "records-table" },
    h("thead", {}, h("tr", {}, h("th", { text: "#" }), timed ? h("th", { text: "time" }) : null, visible.map((c) => h("th", { text: c })))),
    h(
      "tbody",
      {},
      rows.map((row, index) =>
        h(
          "tr",
          {},
          h("td", { class: "num muted", text: String(first + index) }),
          timed ? h("td", { class: "mono", text: typeof row._timestamp === "number" ? new Date(row._timestamp * 1000).toLocaleTimeString() : "" }) : null,
          visible.map((c) => h("td", { class: typeof row[c] === "number" ? "num" : "", text: row[c] === undefined ? "" : formatNumber(row[c]) })),
        ),
      ),
    ),
  );
}
