// The experiment list's table: sortable column headers (created, id, module, group and config keys),
// one row per experiment of the page, a checkbox per row to pick experiments to compare.

import { experimentLink, formatValue, h, statusBadge, timeCell } from "./dom.js";

const FIXED = [
  ["id", "@id"],
  ["module", "@module"],
  ["status", null], // not sortable: the status is read from each experiment's files
  ["created", "@created"],
  ["group", "@group"],
];

// The column a sort text (`?sort=`, e.g. "-lr,@created") sorts by first, and whether descending.
export function activeSort(text) {
  const first = (text || "").split(",")[0].trim();
  if (!first) return { key: "@created", descending: true }; // the server's default: newest first
  return { key: first.replace(/^[-+]/, ""), descending: first.startsWith("-") };
}
const MORE_KEYS = "config"; // the column of the config keys without a column of their own

// options: { selected: Set of ids, onSort(key), onPick() }; returns { element, render(data), clear(row) }
export function listTable({ selected, onSort, onPick }) {
  const head = h("thead");
  const body = h("tbody");
  const element = h("table", { id: "experiments" }, head, body);
  let columns = 0;

  function header(label, key, data) {
    if (!key) return h("th", { text: label });
    const sorted = activeSort(data.sort);
    const active = sorted.key === key;
    const arrow = active ? (sorted.descending ? " ▼" : " ▲") : "";
    return h(
      "th",
      { class: active ? "sortable sorted" : "sortable", dataset: { sort: key }, "aria-sort": active ? (sorted.descending ? "descending" : "ascending") : "none" },
      h("button", { class: "sort", type: "button", title: `sort by ${label}`, onclick: () => onSort(key) }, label + arrow),
    );
  }

  function render(data) {
    const keys = data.keys || [];
    const named = new Set(keys.filter((column) => column.metric === undefined).map((column) => column.key));
    // the column of the other config keys, only if some row has keys without a column of their own
    const more = data.experiments.some((experiment) => Object.keys(experiment.config).some((key) => !named.has(key)));
    columns = 1 + FIXED.length + keys.length + (more ? 1 : 0);
    head.replaceChildren(h("tr", {},
      h("th", {}),
      FIXED.map(([label, key]) => header(label, key, data)),
      keys.map((column) => header(column.key, column.sort, data)),
      more ? h("th", { text: MORE_KEYS }) : null));
    if (!data.experiments.length) {
      clear(data.stored ? "No experiments match these filters." : "No experiments stored yet.", "no-experiments");
      return;
    }
    body.replaceChildren(...data.experiments.map((experiment) => row(experiment, keys, named, more)));
  }

  // Only a message in the table (no rows), e.g. while a filter cannot be read.
  function clear(text, id) {
    body.replaceChildren(h("tr", {}, h("td", { colspan: Math.max(columns, 7), class: "empty", id, text })));
  }

  function row(experiment, keys, named, more) {
    const rest = Object.entries(experiment.config).filter(([key]) => !named.has(key));
    const metrics = experiment.summary || {};
    const config = rest.map(([key, value]) => `${key}=${formatValue(value)}`).join(", ");
    const box = h("input", {
      type: "checkbox",
      class: "pick",
      checked: selected.has(experiment.id),
      "aria-label": `select ${experiment.id}`,
      onchange: (event) => {
        if (event.target.checked) selected.add(experiment.id);
        else selected.delete(experiment.id);
        onPick();
      },
    });
    return h(
      "tr",
      { dataset: { id: experiment.id, status: experiment.status, module: experiment.module } },
      h("td", {}, box),
      h("td", { class: "id" }, experimentLink(experiment.id)),
      h("td", { class: "module", text: experiment.module }),
      h("td", {}, statusBadge(experiment.status)),
      h("td", { class: "created" }, timeCell(experiment.created)),
      h("td", { class: "group mono", text: experiment.group }),
      keys.map((column) => {
        const [values, key, where] = column.metric === undefined
          ? [experiment.config, column.key, "config"]
          : [metrics, column.metric, "summary metrics"];
        const kind = column.metric === undefined ? "config-value" : "metric-value";
        return key in values
          ? h("td", { class: `${kind} mono`, dataset: { key: column.key }, text: formatValue(values[key]) })
          : h("td", { class: `${kind} missing`, dataset: { key: column.key }, text: "–", title: `not in this experiment's ${where}` });
      }),
      more ? h("td", { class: "config-summary", title: config, text: config }) : null,
    );
  }

  return { element, render, clear };
}
