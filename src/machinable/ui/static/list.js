// The experiment list: filters (text, module, status, conditions, group, time), sorted and paged on
// the server: "rows a–b of N", previous/next, clickable column headers, the page size.

import { errorBox, getJSON, h, select } from "./dom.js";
import { activeSort, listTable } from "./listtable.js";

const WITHIN = [
  ["", "any time"],
  ["3600", "last hour"],
  ["86400", "last 24 hours"],
  ["604800", "last 7 days"],
  ["2592000", "last 30 days"],
];
const FILTERS = ["q", "module", "status", "where", "group", "within", "from", "to", "columns"];
const FIELDS = [...FILTERS, "sort", "offset", "limit"];
const SIZES = ["25", "50", "100", "200", "500"];
const DEFAULT_SIZE = "50";
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
    state.offset = ""; // another filter: back to the first page
    clearTimeout(debounce);
    debounce = setTimeout(load, event.type === "input" ? 250 : 0);
  };
  const moduleSelect = select("filter-module", [["", "all modules"]], state.module, update("module"));
  const groupSelect = select("filter-group", [["", "all groups"]], state.group, update("group"));
  const statusSelect = select("filter-status", [["", "any status"]], state.status, update("status"));
  const now = (event) => { // Enter in a text box: apply it without waiting for the typing pause
    if (event.key !== "Enter") return;
    clearTimeout(debounce);
    state[event.target.id.slice("filter-".length)] = event.target.value;
    state.offset = "";
    load();
  };
  const label = (text, control) => h("label", {}, text, control);
  const form = h(
    "div",
    { class: "filters", id: "filters" },
    label("Search", h("input", { id: "filter-q", type: "search", placeholder: "id, module, key=value…", value: state.q, oninput: update("q"), onkeydown: now })),
    label("Module", moduleSelect),
    label("Status", statusSelect),
    label("Filter", h("input", { id: "filter-where", placeholder: "lr<0.1 and opt in [sgd, adam] or @status=failed", value: state.where, oninput: update("where"), onkeydown: now })),
    label("Columns", h("input", { id: "filter-columns", placeholder: "lr, summary.test_acc (default: what differs)", value: state.columns, oninput: update("columns"), onkeydown: now })),
    label("Group", groupSelect),
    label("Created", select("filter-within", WITHIN, state.within, update("within"))),
    label("From", h("input", { id: "filter-from", type: "datetime-local", value: state.from, onchange: update("from") })),
    label("To", h("input", { id: "filter-to", type: "datetime-local", value: state.to, onchange: update("to") })),
  );
  const compareButton = h("button", { id: "compare", disabled: true, onclick: compare }, "Compare selected");
  const summary = h("span", { id: "list-summary", class: "muted" });
  const range = h("span", { id: "page-range" });
  const previous = h("button", { id: "page-prev", type: "button", disabled: true, onclick: () => turn(-1) }, "← previous");
  const next = h("button", { id: "page-next", type: "button", disabled: true, onclick: () => turn(1) }, "next →");
  const size = select("page-size", SIZES.map((n) => [n, `${n} per page`]), state.limit || DEFAULT_SIZE, update("limit"));
  const message = h("div", { id: "list-message" });
  const table = listTable({ selected, onSort: sortBy, onPick: updateButton });
  main.append(
    h("h1", { text: "Experiments" }),
    form,
    h("div", { class: "toolbar" }, compareButton, summary),
    message,
    h("div", { class: "toolbar pager", id: "pager" }, previous, range, next, size),
    h("div", { class: "panel scroll" }, table.element),
  );

  function compare() {
    location.hash = `#/compare?ids=${[...selected].map(encodeURIComponent).join(",")}`;
  }

  function pageSize() {
    return Number(state.limit || DEFAULT_SIZE);
  }

  function turn(direction) {
    state.offset = String(Math.max(0, Number(state.offset || 0) + direction * pageSize()));
    load();
  }

  // A header's click: that column ascending (created: newest first), or the other way round if it
  // is the column sorted by already. The sort is the server's `?sort=` text, e.g. "-lr".
  function sortBy(key) {
    const current = activeSort(state.sort);
    const descending = current.key === key ? !current.descending : key === "@created";
    state.sort = key === "@created" && descending ? "" : `${descending ? "-" : ""}${key}`;
    state.offset = "";
    load();
  }

  function apiQuery() {
    const query = new URLSearchParams();
    for (const name of ["q", "module", "status", "group", "sort", "offset", "columns"]) if (state[name]) query.set(name, state[name]);
    query.set("limit", String(pageSize()));
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
    main.dataset.loading = "true";
    let data;
    try {
      data = await getJSON(`/api/experiments?${apiQuery()}`);
    } catch (error) {
      if (mine === sequence && !disposed) failed(error);
      return;
    }
    if (mine !== sequence || disposed) return;
    if (!data.experiments.length && data.offset > 0 && data.total > 0) { // past the end (fewer rows now): the last page
      state.offset = String(Math.floor((data.total - 1) / data.limit) * data.limit);
      return load();
    }
    delete main.dataset.loading;
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

  // A filter that cannot be read (or a failed request): only the error, no rows of an earlier answer.
  function failed(error) {
    delete main.dataset.loading;
    message.replaceChildren(errorBox(error.message, "list-error"));
    summary.textContent = "";
    range.textContent = "";
    previous.disabled = next.disabled = true;
    table.clear("No list: see the error above.", "list-failed");
  }

  function render(data) {
    const shown = data.experiments.length;
    const first = shown ? data.offset + 1 : 0;
    summary.textContent = `${data.total.toLocaleString("en-US")} of ${data.stored.toLocaleString("en-US")} experiment${data.stored === 1 ? "" : "s"} in ${data.storage}`;
    range.textContent = `rows ${first.toLocaleString("en-US")}–${(data.offset + shown).toLocaleString("en-US")} of ${data.total.toLocaleString("en-US")}`;
    range.dataset.first = first;
    range.dataset.last = data.offset + shown;
    range.dataset.total = data.total;
    previous.disabled = data.offset <= 0;
    next.disabled = data.offset + data.limit >= data.total;
    table.render({ ...data, sort: state.sort });
    updateButton();
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
