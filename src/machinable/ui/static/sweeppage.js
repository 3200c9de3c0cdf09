// A stored sweep or search as one thing: its points with their status, the objective (a search's, or
// a summary metric chosen here) against each parameter, parallel coordinates, the best point marked.

import { errorBox, experimentLink, formatValue, getJSON, h, panel, select, statusBadge } from "./dom.js";
import { PALETTE } from "./plot.js";
import { parallelCoordinates, scatterPanel } from "./sweep.js";

export function sweepPage(main, id) {
  let disposed = false;

  async function load() {
    let data;
    try {
      data = await getJSON(`/api/sweeps/${encodeURIComponent(id)}`);
    } catch (error) {
      if (!disposed) main.replaceChildren(h("h1", { text: "Sweep" }), errorBox(error.message, error.status === 404 ? "not-found" : "sweep-error"));
      return;
    }
    if (disposed) return;
    const points = data.points.filter((point) => !point.missing);
    points.forEach((point) => { point.config = point.config || {}; });
    const metrics = [...new Set(points.flatMap((point) => Object.keys(point.summary || {})))];
    let objective = data.objective && metrics.includes(data.objective) ? data.objective : metrics[metrics.length - 1];
    const minimize = data.direction !== "maximize";
    const body = h("div", {});

    function draw() {
      const values = points.map((point) => point.summary[objective]).filter(Number.isFinite);
      const bestValue = values.length ? (minimize ? Math.min(...values) : Math.max(...values)) : null;
      const best = points.find((point) => point.summary[objective] === bestValue) || null;
      const colors = new Map(points.map((point) => [point.id, point === best ? "#d62728" : PALETTE[0]]));
      const shown = points.map((point) => ({ ...point, summary: objective ? { [objective]: point.summary[objective] } : {} }));
      body.replaceChildren(
        panel("Points", "sweep-points", pointsTable(points, data.parameters, objective, best)),
        panel(`${objective || "objective"} against each parameter`, "sweep-scatter",
          h("div", { class: "plots" }, data.parameters.map((parameter) => scatterPanel(shown, [parameter], colors)))),
        data.parameters.length >= 2 ? panel("Parallel coordinates", "sweep-parallel", h("div", { class: "scroll" }, parallelCoordinates(shown, data.parameters, colors))) : null,
      );
    }

    main.replaceChildren(
      h("h1", { text: `${data.kind === "search" ? "Search" : "Sweep"} ${data.id} of ${data.module}` }),
      h("p", { class: "muted", id: "sweep-summary", text: `${points.length} point${points.length === 1 ? "" : "s"}; ` +
        `${points.filter((point) => point.status === "finished").length} finished; parameters ${data.parameters.join(", ")}` }),
      metrics.length ? h("div", { class: "toolbar" }, h("label", {}, "objective ", select("sweep-objective", metrics.map((m) => [m, m]), objective, (event) => {
        objective = event.target.value;
        draw();
      }))) : h("p", { class: "empty", text: "No summary metrics yet: the points have not finished." }),
      body,
    );
    draw();
  }

  load();
  return { dispose() { disposed = true; } };
}

function pointsTable(points, parameters, objective, best) {
  return h("div", { class: "scroll" }, h("table", { id: "sweep-table" },
    h("thead", {}, h("tr", {}, ["id", "status", ...parameters, objective ? `summary.${objective}` : null].filter(Boolean).map((name) => h("th", { text: name })))),
    h("tbody", {}, points.map((point) => h("tr", { class: point === best ? "best" : "", dataset: { id: point.id } },
      h("td", {}, experimentLink(point.id)),
      h("td", {}, statusBadge(point.status)),
      parameters.map((parameter) => h("td", { class: "mono", text: formatValue(point.config[parameter]) })),
      objective ? h("td", { class: "mono", text: formatValue(point.summary[objective]) }) : null,
    ))),
  ));
}
