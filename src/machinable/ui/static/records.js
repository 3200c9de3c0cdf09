// Records of one experiment: a scope and x-axis choice, line plots of the numeric columns, and a table.

import { formatNumber, getJSON, h, select } from "./dom.js";
import { linePlot, PALETTE, pointsOf } from "./plot.js";

const TABLE_ROWS = 200;
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

export function recordsUrl(id, scope) {
  return `/api/experiments/${encodeURIComponent(id)}/records?scope=${encodeURIComponent(scope)}`;
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
    const data = await getJSON(recordsUrl(id, scope));
    if (mine !== sequence) return;
    if (xColumn === null || (xColumn !== ROW && !data.numeric.includes(xColumn))) xColumn = defaultX(data.numeric);
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
        linePlot(column, [{ name: id, color: PALETTE[0], points: pointsOf(data.rows, column, xColumn, data.first_row) }], xLabel),
      ),
    );
    if (!columns.length) plots.replaceChildren(h("p", { class: "empty", text: "No numeric columns to plot." }));
    const shown = data.rows.slice(-TABLE_ROWS);
    const first = data.first_row + data.rows.length - shown.length;
    note.textContent = `${data.total} row${data.total === 1 ? "" : "s"} in scope "${scope}"` +
      (shown.length < data.total ? `; the table shows the last ${shown.length}` : "");
    table.replaceChildren(rowsTable(data.columns, shown, first));
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
