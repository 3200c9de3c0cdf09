// Saved figures (.png, .svg data files) shown inline: on the experiment page, and as a gallery of the
// compared runs (one row per image name, one column per run). Always through <img>, never inlined into
// the page, so an SVG's scripts cannot run; the server checks each file and sends it with a strict policy.

import { experimentLink, formatBytes, h, panel } from "./dom.js";

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

// The "Figures" panel of an experiment page, placed before its data files; nothing if it saved no images.
export function showImages(main, detail) {
  const files = detail.data.filter((file) => file.image);
  if (!files.length) return;
  const figures = h("div", { class: "images", id: "image-list" }, files.map((file) => h(
    "figure",
    { dataset: { name: file.name } },
    image(detail.id, file.name),
    h("figcaption", {}, h("span", { class: "mono", text: file.name }), " ", h("span", { class: "muted", text: formatBytes(file.size) })),
  )));
  const section = panel("Figures", "images", figures);
  const data = main.querySelector("#data");
  const before = data ? data.closest("div.grid") || data : null;
  if (before && before.parentNode === main) main.insertBefore(section, before);
  else main.append(section);
}

// The gallery of a compare page: the image names several runs saved, side by side, labelled by run id.
export function showGallery(main, data) {
  if (!data.images || !data.images.length) return;
  const runs = data.experiments;
  main.append(panel("Figures", "compare-images", h("div", { class: "scroll" }, h(
    "table",
    { id: "gallery", class: "gallery" },
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
