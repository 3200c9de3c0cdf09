// The compare page's gallery of saved figures (.png, .svg data files): one row per image name, one column
// per run. Always through <img>, never inlined into the page, so an SVG's scripts cannot run; the server
// serves only files that are what their names say, an SVG under a policy that runs and loads nothing.

import { experimentLink, h, panel } from "./dom.js";

export function imageUrl(id, name) {
  return `/api/experiments/${encodeURIComponent(id)}/data/${name.split("/").map(encodeURIComponent).join("/")}`;
}

function image(id, name) {
  const img = h("img", { src: imageUrl(id, name), alt: name, loading: "lazy", decoding: "async" });
  const note = h("span", { class: "error image-error", text: "not a valid image", hidden: true });
  img.addEventListener("error", () => {
    img.hidden = true;
    note.hidden = false;
  });
  return h("a", { href: imageUrl(id, name), target: "_blank", rel: "noopener", class: "image-link", title: `open ${name}` }, img, note);
}

// The gallery of a compare page: the image names several runs saved, side by side, labelled by run id.
export function showGallery(main, data) {
  if (!data.images || !data.images.length) return;
  const runs = data.experiments;
  main.append(panel("Figures", "compare-images", h("div", { class: "scroll" }, h(
    "table",
    { id: "gallery", class: "image-grid" },
    h("thead", {}, h("tr", {}, h("th", { text: "file" }), runs.map((run) => h("th", { dataset: { id: run.id } }, experimentLink(run.id))))),
    h("tbody", {}, data.images.map((row) => h(
      "tr",
      { dataset: { name: row.name } },
      h("th", { class: "mono", scope: "row", text: row.name }),
      runs.map((run, index) => row.present[index]
        ? h("td", { dataset: { id: run.id } }, image(run.id, row.name))
        : h("td", { class: "missing", dataset: { id: run.id }, text: "—", title: "this run saved no such file" })),
    ))),
  ))));
}
