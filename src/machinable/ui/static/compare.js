// Several experiments side by side: config diff (differing keys highlighted) and overlaid record plots.

import { errorBox, experimentLink, formatValue, getJSON, h, panel, select, statusBadge } from "./dom.js";
import { linePlot, PALETTE } from "./plot.js";
import { defaultX, plottedColumns, recordsUrl, viewControls, xOptions } from "./records.js";
import { showGallery } from "./images.js";
import { meanBand, parallelCoordinates, replicateGroups, scatterPanel } from "./sweep.js";

export function comparePage(main, params) {
  const ids = (params.get("ids") || "").split(",").map((id) => id.trim()).filter(Boolean);
  let disposed = false;

  async function load() {
    if (!ids.length) {
      main.replaceChildren(h("h1", { text: "Compare" }), errorBox("Select two or more experiments in the list to compare them.", "compare-error"));
      return;
    }
    let data;
    try {
      data = await getJSON(`/api/compare?ids=${ids.map(encodeURIComponent).join(",")}`);
    } catch (error) {
      if (!disposed) main.replaceChildren(h("h1", { text: "Compare" }), errorBox(error.message, error.status === 404 ? "not-found" : "compare-error"));
      return;
    }
    if (disposed) return;
    const groups = data.groups = replicateGroups(data.experiments); // before the labels get their seeds
    const colors = new Map(); // replicates share a color
    groups.forEach((group, index) => group.members.forEach((experiment) => colors.set(experiment.id, PALETTE[index % PALETTE.length])));
    for (const group of groups) {
      if (group.members.length > 1) group.members.forEach((experiment) => { experiment.label += ` · seed ${experiment.seed}`; });
    }
    const configs = new Map(data.experiments.map((experiment) => [experiment.id, {}]));
    for (const row of data.config) row.values.forEach((value, index) => { if (row.present[index]) configs.get(data.experiments[index].id)[row.key] = value; });
    data.experiments.forEach((experiment) => { experiment.config = configs.get(experiment.id); });
    const plots = h("div", {});
    main.replaceChildren(
      h("h1", { text: `Compare ${data.experiments.length} experiments` }),
      panel("Experiments", "compare-legend", legend(data.experiments, colors)),
      panel("Config", "config-diff", configDiff(data)),
      panel("Summary against config", "compare-summary", scatterPanel(data.experiments, data.differing, colors)),
      panel("Parallel coordinates", "compare-parallel-panel", h("div", { class: "scroll" }, parallelCoordinates(data.experiments, data.differing, colors))),
      panel("Records", "compare-records", plots),
    );
    showGallery(main, data);
    if (data.scopes.length) recordPlots(plots, data, colors);
    else plots.append(h("p", { class: "empty", text: "None of them saved records." }));
  }

  load();
  return { dispose() { disposed = true; } };
}

function legend(experiments, colors) {
  return h("ul", { class: "legend" }, experiments.map((experiment) => {
    const swatch = h("span", { class: "swatch" });
    swatch.style.background = colors.get(experiment.id);
    return h("li", { dataset: { id: experiment.id } }, swatch, h("span", { class: "label", text: experiment.label }), " ",
      experimentLink(experiment.id), " ", h("span", { class: "muted", text: experiment.module }), " ", statusBadge(experiment.status));
  }));
}

function configDiff(data) {
  const differing = data.differing.length;
  const only = h("input", { type: "checkbox", id: "only-differing" });
  const body = h("tbody", {}, data.config.map((row) =>
    h(
      "tr",
      { class: row.differs ? "differs" : "same", dataset: { key: row.key } },
      h("td", { class: "mono", text: row.key }),
      row.values.map((value, index) => row.present[index]
        ? h("td", { class: "mono", text: formatValue(value) })
        : h("td", { class: "missing", text: "—", title: "not in this experiment's config" })),
    ),
  ));
  only.addEventListener("change", () => {
    for (const tr of body.querySelectorAll("tr.same")) tr.hidden = only.checked;
  });
  return h(
    "div",
    {},
    h("div", { class: "toolbar" },
      h("span", { id: "diff-summary", text: differing ? `${differing} of ${data.config.length} config keys differ: ${data.differing.join(", ")}` : "The configs are identical." }),
      h("label", {}, only, " only differing keys")),
    h("div", { class: "scroll" }, h("table", { id: "diff-table" },
      h("thead", {}, h("tr", {}, h("th", { text: "key" }), data.experiments.map((experiment) => h("th", { class: "mono", text: experiment.id })))),
      body)),
  );
}

function recordPlots(container, data, colors) {
  let scope = data.scopes[0];
  let xColumn = null;
  let range = null; // the zoomed x range, null for all rows
  let loaded = [];
  let sequence = 0;
  const view = { logY: false, smoothing: 0, replicates: false };
  const groups = data.groups;
  const hasReplicates = groups.some((group) => group.members.length > 1);
  const controls = h("div", { class: "toolbar" });
  const plots = h("div", { class: "plots", id: "compare-plots" });
  container.append(controls, plots);

  async function load() {
    const mine = ++sequence;
    const fresh = await Promise.all(data.experiments.map(async (experiment) => {
      try {
        return { experiment, records: await getJSON(recordsUrl(experiment.id, scope, xColumn, range)) };
      } catch (error) {
        return { experiment, records: { numeric: [], series: {}, x: xColumn } };
      }
    }));
    if (mine !== sequence) return;
    loaded = fresh;
    const numeric = [...new Set(loaded.flatMap((one) => one.records.numeric))];
    if (xColumn === null || (xColumn !== "" && !numeric.includes(xColumn))) {
      xColumn = defaultX(numeric);
      range = null;
      if (loaded.some((one) => one.records.x !== xColumn)) return load(); // one x axis for all of them
    }
    controls.replaceChildren(...[
      h("label", {}, "Scope ", select("compare-scope", data.scopes.map((s) => [s, s]), scope, (event) => {
        scope = event.target.value;
        xColumn = null;
        range = null;
        load();
      })),
      h("label", {}, "x axis ", select("compare-x", xOptions(numeric), xColumn, (event) => {
        xColumn = event.target.value;
        range = null;
        load();
      })),
      ...viewControls("compare-", view, draw),
      hasReplicates ? h("label", {}, h("input", { type: "checkbox", id: "compare-replicates", checked: view.replicates,
        onchange: (event) => { view.replicates = event.target.checked; draw(); } }), " replicates as mean ± std") : null,
      range ? h("button", { id: "compare-reset-zoom", onclick: () => zoom(null) }, "Show all rows") : null,
    ].filter(Boolean)); // replaceChildren would show a null as the text "null"
    draw();
  }

  function zoom(next) {
    range = next;
    load();
  }

  function draw() {
    const numeric = [...new Set(loaded.flatMap((one) => one.records.numeric))];
    const columns = plottedColumns(numeric, xColumn);
    const xLabel = xColumn || "row index";
    plots.replaceChildren(...columns.map((column) => linePlot(
      column,
      view.replicates ? groupedSeries(groups, loaded, column, colors) : loaded
        .filter((one) => one.records.numeric.includes(column))
        .map((one) => ({
          name: one.experiment.label,
          key: one.experiment.id,
          color: colors.get(one.experiment.id),
          points: one.records.series[column] || [],
        })),
      xLabel,
      { ...view, domain: range, onZoom: (a, b) => zoom([a, b]), onReset: () => { if (range) zoom(null); } },
    )));
    if (!columns.length) plots.replaceChildren(h("p", { class: "empty", text: `No numeric columns in scope "${scope}".` }));
  }

  load();
}

// One line per replicate group: the members' mean, with a band of ± one standard deviation.
function groupedSeries(groups, loaded, column, colors) {
  const byId = new Map(loaded.map((one) => [one.experiment.id, one.records.series[column] || []]));
  return groups.map((group) => ({
    name: `${group.label} (n=${group.members.length})`,
    color: colors.get(group.members[0].id),
    ...meanBand(group.members.map((experiment) => byId.get(experiment.id) || [])),
  }));
}
