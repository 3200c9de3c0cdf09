// One experiment: overview, status timeline, config, output (followed while running), records, files, relations.

import {
  errorBox, experimentLink, formatBytes, formatValue, getJSON, h, localTime, panel, statusBadge, timeCell,
} from "./dom.js";
import { recordsView } from "./records.js";

const POLL_MS = 1000; // output of a running experiment
const LIVE_EVERY = 5; // polls between refreshes of the timeline and records
const MAX_LOG_CHARS = 1 << 20; // of a followed log the page keeps the newest; older lines are dropped with a note

export function experimentPage(main, id) {
  const base = `/api/experiments/${encodeURIComponent(id)}`;
  let disposed = false;
  let timer = null;

  async function load() {
    let detail;
    try {
      detail = await getJSON(base);
    } catch (error) {
      if (disposed) return;
      const text = error.status === 404 ? `Experiment "${id}" not found. ${error.message}` : `Cannot load experiment "${id}": ${error.message}`;
      main.replaceChildren(h("h1", { text: `Experiment ${id}` }), errorBox(text, error.status === 404 ? "not-found" : "load-error"), h("p", {}, h("a", { href: "#/", text: "← all experiments" })));
      return;
    }
    if (!disposed) render(detail);
  }

  function render(detail) {
    const log = h("pre", { class: "log", id: "output-log" });
    const live = h("span", { class: "live", id: "output-live" });
    const records = h("div", {});
    const timeline = h("div", {});
    const header = h("h1", {}, h("span", { class: "mono", text: detail.id }), statusBadge(detail.status), h("span", { class: "muted", text: detail.module }),
      detail.module === "machinable.sweep.stored" ? h("a", { id: "open-sweep", href: `#/sweep/${encodeURIComponent(detail.id)}`, text: " → its points" }) : null);
    main.replaceChildren(
      header,
      h(
        "div",
        { class: "grid" },
        panel("Overview", "overview", overview(detail)),
        panel("Status", "timeline", timeline),
        panel("Config", "config", configTable(detail.config)),
        panel("Relations", "relations", relations(detail)),
      ),
      panel("Output", "output", h("div", { class: "toolbar" }, live), log),
      panel("Records", "records", records),
      h("div", { class: "grid" }, panel("Data files", "data", dataFiles(detail)), panel("Executions", "executions", executions(detail))),
    );
    timeline.append(timelineList(detail));
    const view = detail.scopes.length ? recordsView(records, id, detail.scopes) : null;
    if (!view) records.append(h("p", { class: "empty", text: "No records saved." }));
    followOutput(log, live, detail.status, async () => {
      const fresh = await getJSON(base);
      if (disposed) return;
      timeline.replaceChildren(timelineList(fresh));
      header.replaceChild(statusBadge(fresh.status), header.children[1]);
      if (view) view.reload();
    });
  }

  async function followOutput(log, live, status, refresh) {
    let offset = 0;
    let polls = 0;
    const shown = logView(log);
    try {
      const first = await getJSON(`${base}/output`);
      if (disposed) return;
      shown.add(first.text, first.skipped);
      offset = first.offset;
      status = first.status;
    } catch (error) {
      log.textContent = `Cannot read the output: ${error.message}`;
      return;
    }
    if (offset === 0 && status !== "running") shown.add("(no output)");
    if (status !== "running") return;
    live.textContent = "● following live output";
    const poll = async () => {
      if (disposed) return;
      try {
        const next = await getJSON(`${base}/output?offset=${offset}`);
        if (disposed) return;
        if (next.start !== offset) shown.clear(); // the log was replaced: start over
        shown.add(next.text, next.skipped);
        offset = next.offset;
        polls += 1;
        if (next.status !== "running") {
          load(); // it ended: show the final state
          return;
        }
        if (polls % LIVE_EVERY === 0) await refresh();
      } catch (error) {
        live.textContent = `● following (retrying: ${error.message})`;
      }
      timer = setTimeout(poll, POLL_MS);
    };
    timer = setTimeout(poll, POLL_MS);
  }

  load();
  return {
    dispose() {
      disposed = true;
      clearTimeout(timer);
    },
  };
}

// The text of `log` (a <pre>), capped at MAX_LOG_CHARS: a note says how much older output is not shown.
export function logView(log, limit = MAX_LOG_CHARS) {
  const note = h("span", { class: "muted", id: "output-dropped" });
  const body = document.createTextNode("");
  log.replaceChildren(note, body);
  let hidden = 0; // bytes the server skipped and characters dropped here
  return {
    add(text, skipped = 0) {
      const atEnd = log.scrollTop + log.clientHeight >= log.scrollHeight - 4;
      let all = body.data + text;
      if (all.length > limit) {
        const newline = all.indexOf("\n", all.length - limit);
        const cut = newline < 0 ? all.length - limit : newline + 1;
        all = all.slice(cut);
        hidden += cut;
      }
      hidden += skipped;
      body.data = all;
      note.textContent = hidden ? `… older output not shown (about ${formatBytes(hidden)}); output.log holds all of it\n` : "";
      if (atEnd) log.scrollTop = log.scrollHeight;
    },
    clear() {
      body.data = "";
      hidden = 0;
      note.textContent = "";
    },
  };
}

function facts(pairs) {
  return h("dl", { class: "facts" }, pairs.filter(([, value]) => value !== null && value !== undefined).flatMap(([name, value]) => [
    h("dt", { text: name }),
    h("dd", {}, value),
  ]));
}

function overview(detail) {
  return facts([
    ["id", h("span", { class: "mono", id: "experiment-id", text: detail.id })],
    ["module", detail.module],
    ["class", detail.class],
    ["seed", h("span", { class: "mono", id: "seed", text: String(detail.seed) })],
    ["group", detail.group],
    ["created", timeCell(detail.created)],
    ["versions", h("code", { id: "versions", text: JSON.stringify(detail.version) })],
    ["uses", detail.uses.length ? h("code", { text: detail.uses.map((use) => use.module).join(", ") }) : null],
    ["summary", Object.keys(detail.summary || {}).length
      ? h("code", { id: "summary-metrics", text: Object.entries(detail.summary).map(([key, value]) => `${key}=${formatValue(value)}`).join(", ") })
      : null],
    ["directory", h("code", { text: detail.directory })],
  ]);
}

function timelineList(detail) {
  const items = detail.timeline.map((entry) =>
    h(
      "li",
      { dataset: { event: entry.event } },
      h("span", { class: "event", text: entry.event }),
      h("span", { text: ` ${localTime(entry)} ` }),
      h("span", { class: "muted", text: `(${entry.human})` }),
    ),
  );
  const parts = [h("p", {}, "status: ", statusBadge(detail.status)), h("ol", { class: "timeline" }, items)];
  if (detail.error) {
    parts.push(
      h("p", { class: "error", id: "failure", text: `${detail.error.type}: ${detail.error.message}` }),
      h("details", {}, h("summary", { text: "traceback" }), h("pre", { class: "trace", text: detail.error.traceback || "" })),
    );
  }
  return h("div", {}, parts);
}

function configTable(config) {
  const entries = Object.entries(config);
  if (!entries.length) return h("p", { class: "empty", text: "No configuration." });
  return h("table", { id: "config-table" }, h("tbody", {}, entries.map(([key, value]) =>
    h("tr", { dataset: { key } }, h("td", { class: "mono", text: key }), h("td", { class: "mono value", text: formatValue(value) })),
  )));
}

function relative(entry) {
  if (entry.missing) return h("span", {}, h("span", { class: "mono", text: entry.id }), h("span", { class: "muted", text: " (no longer stored)" }));
  return h("span", {}, experimentLink(entry.id), " ", h("span", { class: "muted", text: entry.module }), " ", statusBadge(entry.status));
}

function relations(detail) {
  return h(
    "div",
    {},
    h("p", { id: "ancestor" }, "Ancestor: ", detail.ancestor ? relative(detail.ancestor) : h("span", { class: "muted", text: "none" })),
    h("div", { id: "derived" }, "Derived: ", detail.derived.length
      ? h("ul", { class: "links" }, detail.derived.map((entry) => h("li", {}, relative(entry))))
      : h("span", { class: "muted", text: "none" })),
  );
}

function dataFiles(detail) {
  if (!detail.data.length) return h("p", { class: "empty", text: "No data files." });
  const base = `/api/experiments/${encodeURIComponent(detail.id)}/data/`;
  const url = (file) => base + file.name.split("/").map(encodeURIComponent).join("/");
  const images = detail.data.filter((file) => file.image);
  const table = h("table", { id: "data-table" }, h("tbody", {}, detail.data.map((file) =>
    h(
      "tr",
      { dataset: { name: file.name } },
      h("td", {}, h("a", {
        href: url(file),
        class: "mono",
        target: file.text ? "_blank" : null,
        rel: "noopener",
        download: file.text ? null : file.name.split("/").pop(),
        text: file.name,
      })),
      h("td", { class: "num size", title: `${file.size} bytes`, text: formatBytes(file.size) }),
    ),
  )));
  if (!images.length) return table;
  const gallery = h("div", { class: "gallery", id: "figures" }, images.map((file) =>
    h("figure", { dataset: { name: file.name } }, h("img", { src: url(file), alt: file.name, loading: "lazy" }),
      h("figcaption", { class: "mono", text: file.name }))));
  return h("div", {}, table, gallery);
}

function executions(detail) {
  if (!detail.executions.length) return h("p", { class: "empty", text: "Not executed yet." });
  const header = ["nickname", "module", "host", "pid", "started", "code"];
  return h("div", { class: "scroll" }, h("table", { id: "executions-table" },
    h("thead", {}, h("tr", {}, header.map((name) => h("th", { text: name })))),
    h("tbody", {}, detail.executions.map((run) => run.error
      ? h("tr", {}, h("td", { colspan: header.length, class: "error", text: run.error }))
      : h(
        "tr",
        { dataset: { nickname: run.nickname } },
        h("td", { class: "mono", text: run.nickname + (run.superseded ? " (superseded)" : ""), title: run.superseded ? "A later attempt took this one's claim over while it was paused or cut off; it wrote nothing after that." : "" }),
        h("td", { text: run.module }),
        h("td", { text: run.user ? `${run.user}@${run.hostname}` : run.hostname || "" }),
        h("td", { class: "num", text: run.pid ?? "" }),
        h("td", { text: run.started_at ? new Date(run.started_at * 1000).toLocaleString() : "" }),
        h("td", { class: "mono", text: run.commit ? run.commit.slice(0, 10) + (run.dirty ? " +changes" : "") : "no git" }),
      ))),
  ));
}
