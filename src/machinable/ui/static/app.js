// The dashboard's entry point: a hash router over the list, experiment, compare and sweep pages.

import { comparePage } from "./compare.js";
import { errorBox, h } from "./dom.js";
import { experimentPage } from "./experiment.js";
import { listPage } from "./list.js";
import { sweepPage } from "./sweeppage.js";

const main = document.getElementById("main");
let page = null;

function route() {
  if (page && page.dispose) page.dispose();
  page = null;
  const [path, query] = (location.hash.slice(1) || "/").split("?", 2);
  const params = new URLSearchParams(query || "");
  main.replaceChildren();
  const experiment = path.match(/^\/experiment\/([^/]+)$/);
  const sweep = path.match(/^\/sweep\/([^/]+)$/);
  if (path === "/" || path === "") {
    page = listPage(main, params);
  } else if (experiment) {
    page = experimentPage(main, decodeURIComponent(experiment[1]));
  } else if (sweep) {
    page = sweepPage(main, decodeURIComponent(sweep[1]));
  } else if (path === "/compare") {
    page = comparePage(main, params);
  } else {
    main.append(errorBox(`There is no page "${path}".`, "not-found"), h("p", {}, h("a", { href: "#/", text: "← all experiments" })));
  }
  window.scrollTo(0, 0);
}

window.addEventListener("hashchange", route);
route();
