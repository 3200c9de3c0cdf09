// The experiment list: filters (text, module, status, config key=value, group, time), newest first.

import { errorBox, experimentLink, formatValue, getJSON, h, select, statusBadge, timeCell } from "./dom.js";

const WITHIN = [
  ["", "any time"],
  ["3600", "last hour"],
  ["86400", "last 24 hours"],
  ["604800", "last 7 days"],
  ["2592000", "last 30 days"],
];
const FIELDS = ["q", "module", "status", "where", "group", "within", "from", "to"];
const REFRESH_MS = 3000; // while a shown experiment is running

export function listPage(main, params) {
  const state = Object.fromEntries(FIELDS.map((name) => [name, params.get(name) || ""]));
  const selected = new Set();
  let timer = null;
  let debounce = null;
  let sequence = 0;
  let disposed = false;

  const update = (name) => (event) => {
    state[name] = event.target.value;
    clearTimeout(debounce);
    debounce = setTimeout(load, event.type === "input" ? 250 : 0);
  };
  const moduleSelect = select("filter-module", [["", "all modules"]], state.module, update("module"));
  const groupSelect = select("filter-group", [["", "all groups"]], state.group, update("group"));
  const statusSelect = select("filter-status", [["", "any status"]], state.status, update("status"));
  const label = (text, control) => h("label", {}, text, control);
  const form = h(
    "div",
    { class: "filters", id: "filters" },
    label("Search", h("input", { id: "filter-q", type: "search", placeholder: "id, module, key=value…", value: state.q, oninput: update("q") })),
    label("Module", moduleSelect),
    label("Status", statusSelect),
    label("Config", h("input", { id: "filter-where", placeholder: "key=value key2=value", value: state.where, oninput: update("where") })),
    label("Group", groupSelect),
    label("Created", select("filter-within", WITHIN, state.within, update("within"))),
    label("From", h("input", { id: "filter-from", type: "datetime-local", value: state.from, onchange: update("from") })),
    label("To", h("input", { id: "filter-to", type: "datetime-local", value: state.to, onchange: update("to") })),
  );
  const compareButton = h("button", { id: "compare", disabled: true, onclick: compare }, "Compare selected");
  const summary = h("span", { id: "list-summary", class: "muted" });
  const message = h("div", { id: "list-message" });
  const body = h("tbody");
  const table = h(
    "table",
    { id: "experiments" },
    h("thead", {}, h("tr", {}, ["", "id", "module", "status", "created", "group", "config"].map((name) => h("th", { text: name })))),
    body,
  );
  main.append(h("h1", { text: "Experiments" }), form, h("div", { class: "toolbar" }, compareButton, summary), message, h("div", { class: "panel scroll" }, table));

  function compare() {
    location.hash = `#/compare?ids=${[...selected].map(encodeURIComponent).join(",")}`;
  }

  function apiQuery() {
    const query = new URLSearchParams();
    for (const name of ["q", "module", "status", "group"]) if (state[name]) query.set(name, state[name]);
    if (state.where.trim()) query.set("where", state.where.trim());
    let since = state.within ? Date.now() / 1000 - Number(state.within) : null;
    if (state.from) since = Math.max(since ?? -Infinity, new Date(state.from).getTime() / 1000);
    if (since !== null && Number.isFinite(since)) query.set("since", String(since));
    if (state.to) query.set("until", String(new Date(state.to).getTime() / 1000));
    return query;
  }

  function remember() {
    const shown = new URLSearchParams();
    for (const name of FIELDS) if (state[name]) shown.set(name, state[name]);
    const text = shown.toString();
    history.replaceState(null, "", text ? `#/?${text}` : "#/");
  }

  async function load() {
    clearTimeout(timer);
    const mine = ++sequence;
    remember();
    let data;
    try {
      data = await getJSON(`/api/experiments?${apiQuery()}`);
    } catch (error) {
      if (mine === sequence && !disposed) message.replaceChildren(errorBox(error.message, "list-error"));
      return;
    }
    if (mine !== sequence || disposed) return;
    message.replaceChildren();
    if (data.unreadable.length) {
      const names = data.unreadable.map((entry) => entry.id).join(", ");
      message.append(errorBox(`${data.unreadable.length} experiment(s) could not be read (${names}): ${data.unreadable[0].error}`, "unreadable"));
    }
    fillOptions(moduleSelect, "all modules", data.modules, state.module);
    fillOptions(groupSelect, "all groups", data.groups, state.group);
    fillOptions(statusSelect, "any status", data.statuses, state.status);
    render(data);
    if (data.experiments.some((experiment) => experiment.status === "running")) timer = setTimeout(load, REFRESH_MS);
  }

  function render(data) {
    const shown = data.experiments.length;
    summary.textContent =
      `${data.total} of ${data.stored} experiment${data.stored === 1 ? "" : "s"}` +
      (shown < data.total ? ` (newest ${shown} shown)` : "") +
      ` in ${data.storage}`;
    if (!shown) {
      body.replaceChildren(h("tr", {}, h("td", { colspan: 7, class: "empty", id: "no-experiments", text: data.stored ? "No experiments match these filters." : "No experiments stored yet." })));
      return;
    }
    body.replaceChildren(...data.experiments.map(row));
    updateButton();
  }

  function row(experiment) {
    const config = Object.entries(experiment.config).map(([key, value]) => `${key}=${formatValue(value)}`).join(", ");
    const box = h("input", {
      type: "checkbox",
      class: "pick",
      checked: selected.has(experiment.id),
      "aria-label": `select ${experiment.id}`,
      onchange: (event) => {
        if (event.target.checked) selected.add(experiment.id);
        else selected.delete(experiment.id);
        updateButton();
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
      h("td", { class: "config-summary", title: config, text: config }),
    );
  }

  function updateButton() {
    compareButton.disabled = selected.size < 2;
    compareButton.textContent = selected.size ? `Compare selected (${selected.size})` : "Compare selected";
  }

  load();
  return {
    dispose() {
      disposed = true;
      clearTimeout(timer);
      clearTimeout(debounce);
    },
  };
}

function fillOptions(control, allLabel, values, current) {
  const options = [["", allLabel], ...values.map((value) => [value, value])];
  if (current && !values.includes(current)) options.push([current, current]);
  control.replaceChildren(...options.map(([value, text]) => h("option", { value, text, selected: value === current })));
  control.value = current;
}
