// What a plot does under the pointer: hover marks the nearest point and shows its x and y; dragging
// across the plot picks an x range (options.onZoom(x0, x1)); a double-click asks for the full range
// (options.onReset()).

import { formatNumber, svg } from "./dom.js";

const MIN_DRAG = 4; // pixels: a shorter drag is a click

// frame: { left, right, top, bottom, x0, x1, width, height } of the drawn area, null if nothing is drawn;
// series: [{ name, color, pixels: [[px, py, x, y], ...] }] as drawn.
export function interact(plot, frame, series, options = {}) {
  const { onZoom = null, onReset = null } = options;
  if (onReset) plot.addEventListener("dblclick", (event) => {
    event.preventDefault();
    onReset();
  });
  if (!frame) return;
  const dot = svg("circle", { class: "hover-dot", r: 4, visibility: "hidden" });
  const label = svg("text", { class: "hover-label", x: frame.right, y: frame.top + 10, "text-anchor": "end", visibility: "hidden" });
  const box = svg("rect", { class: "zoom-box", y: frame.top, height: frame.bottom - frame.top, width: 0, visibility: "hidden" });
  plot.append(box, dot, label);
  plot.classList.add("interactive");
  let dragFrom = null;

  const position = (event) => {
    const rect = plot.getBoundingClientRect();
    return [
      ((event.clientX - rect.left) / rect.width) * frame.width,
      ((event.clientY - rect.top) / rect.height) * frame.height,
    ];
  };
  const clampX = (px) => Math.min(frame.right, Math.max(frame.left, px));
  const toX = (px) => frame.x0 + ((clampX(px) - frame.left) / (frame.right - frame.left)) * (frame.x1 - frame.x0);

  function hover(px, py) {
    const found = nearest(series, px, py);
    if (!found) return hide();
    const [hx, hy, x, y] = found.point;
    dot.setAttribute("cx", hx);
    dot.setAttribute("cy", hy);
    dot.setAttribute("fill", found.color);
    dot.setAttribute("visibility", "visible");
    label.textContent = `${series.length > 1 ? `${found.name}: ` : ""}x=${formatNumber(x)}, y=${formatNumber(y)}`;
    label.setAttribute("visibility", "visible");
    plot.dataset.hoverX = x;
    plot.dataset.hoverY = y;
  }

  function hide() {
    dot.setAttribute("visibility", "hidden");
    label.setAttribute("visibility", "hidden");
    delete plot.dataset.hoverX;
    delete plot.dataset.hoverY;
  }

  plot.addEventListener("pointerdown", (event) => {
    if (!onZoom || event.button !== 0) return;
    const [px] = position(event);
    if (px < frame.left || px > frame.right) return;
    dragFrom = clampX(px);
    plot.setPointerCapture?.(event.pointerId);
  });
  plot.addEventListener("pointermove", (event) => {
    const [px, py] = position(event);
    hover(px, py);
    if (dragFrom === null) return;
    const to = clampX(px);
    box.setAttribute("x", Math.min(dragFrom, to));
    box.setAttribute("width", Math.abs(to - dragFrom));
    box.setAttribute("visibility", "visible");
  });
  plot.addEventListener("pointerup", (event) => {
    if (dragFrom === null) return;
    const [px] = position(event);
    const from = dragFrom;
    dragFrom = null;
    box.setAttribute("visibility", "hidden");
    if (Math.abs(clampX(px) - from) < MIN_DRAG) return;
    const [a, b] = [toX(from), toX(px)].sort((p, q) => p - q);
    onZoom(a, b);
  });
  plot.addEventListener("pointerleave", () => {
    if (dragFrom === null) hide();
  });
}

// The drawn point closest to (px, py) in pixels over every series; null when none is drawn.
function nearest(series, px, py) {
  let best = null;
  let bestDistance = Infinity;
  for (const one of series) {
    for (const point of one.pixels) {
      const distance = (point[0] - px) ** 2 + (point[1] - py) ** 2;
      if (distance < bestDistance) {
        bestDistance = distance;
        best = { name: one.name, color: one.color, point };
      }
    }
  }
  return best;
}
