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

// The server sends the last rows and each numeric column downsampled against `xColumn` (null: its default).
export function recordsUrl(id, scope, xColumn = null) {
  const x = xColumn === null ? "" : `&x=${encodeURIComponent(xColumn)}`;
  return `/api/experiments/${encodeURIComponent(id)}/records?scope=${encodeURIComponent(scope)}${x}`;
}

// Fills `container`; returns { reload() } to refresh the rows of the current scope.
export function recordsView(container, id, scopes) {
  let scope = scopes[0];
  let xColumn = null;
  let sequence = 0;
  const controls = h("div", { class: "toolbar" });
  const plots = h("div", { class: "plots", id: "plots" });
  const note = h("p", { class: "muted", id: "records-note" });
  const table = h("div", { class: "scroll rows-box" });
  container.append(controls, plots, note, table);

  async function reload() {
    const mine = ++sequence;
    const data = await getJSON(recordsUrl(id, scope, xColumn));
    if (mine !== sequence) return;
    xColumn = data.x;
    controls.replaceChildren(
      h("label", {}, "Scope ", select("scope", scopes.map((s) => [s, s]), scope, (event) => {
        scope = event.target.value;
        xColumn = null;
        reload();
      })),
      h("label", {}, "x axis ", select("x-axis", xOptions(data.numeric), xColumn, (event) => {
        xColumn = event.target.value;
        reload();
      })),
    );
    const columns = plottedColumns(data.numeric, xColumn);
    const xLabel = xColumn || "row index";
    plots.replaceChildren(
      ...columns.map((column) =>
        linePlot(column, [{ name: id, color: PALETTE[0], points: data.series[column] }], xLabel),
      ),
    );
    if (!columns.length) plots.replaceChildren(h("p", { class: "empty", text: "No numeric columns to plot." }));
    note.textContent = `${data.total} row${data.total === 1 ? "" : "s"} in scope "${scope}"` +
      (data.rows.length < data.total ? `; the table shows the last ${data.rows.length}` : "") +
      (data.skipped ? `; ${data.skipped} damaged line${data.skipped === 1 ? " was" : "s were"} skipped` : "");
    table.replaceChildren(rowsTable(data.columns, data.rows, data.first_row));
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
