// Small DOM helpers: build elements from data (text is always set as text, never parsed as HTML).

const PROPERTIES = new Set(["value", "checked", "selected", "disabled"]);

export function h(tag, props, ...children) {
  const element = document.createElement(tag);
  setProps(element, props);
  append(element, children);
  return element;
}

export function svg(tag, attributes, ...children) {
  const element = document.createElementNS("http://www.w3.org/2000/svg", tag);
  for (const [name, value] of Object.entries(attributes || {})) {
    if (value !== null && value !== undefined) element.setAttribute(name, String(value));
  }
  append(element, children);
  return element;
}

function setProps(element, props) {
  for (const [name, value] of Object.entries(props || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (name === "class") element.className = value;
    else if (name === "text") element.textContent = value;
    else if (name === "dataset") Object.assign(element.dataset, value);
    else if (name.startsWith("on")) element.addEventListener(name.slice(2), value);
    else if (PROPERTIES.has(name)) element[name] = value;
    else element.setAttribute(name, value === true ? "" : String(value));
  }
}

export function append(element, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    element.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return element;
}

export async function getJSON(url) {
  const response = await fetch(url, { headers: { Accept: "application/json" } });
  let data = null;
  try {
    data = await response.json();
  } catch (error) {
    data = null;
  }
  if (!response.ok) {
    const failure = new Error((data && data.error) || `${response.status} ${response.statusText}`);
    failure.status = response.status;
    throw failure;
  }
  return data;
}

export function formatValue(value) {
  if (typeof value === "string") return value;
  return JSON.stringify(value);
}

export function formatBytes(size) {
  if (size < 1024) return `${size} B`;
  const units = ["KB", "MB", "GB", "TB"];
  let value = size;
  let unit = -1;
  do {
    value /= 1024;
    unit += 1;
  } while (value >= 1024 && unit < units.length - 1);
  return `${value.toFixed(value < 10 ? 1 : 0)} ${units[unit]}`;
}

export function formatNumber(value) {
  if (typeof value !== "number") return formatValue(value);
  if (Number.isInteger(value)) return String(value);
  const size = Math.abs(value);
  if (size !== 0 && (size >= 1e6 || size < 1e-3)) return value.toExponential(3);
  return String(+value.toPrecision(6));
}

export function localTime(moment) {
  return moment ? new Date(moment.time * 1000).toLocaleString() : "–";
}

export function timeCell(moment) {
  if (!moment) return h("span", { class: "muted", text: "–" });
  return h("span", { title: `${localTime(moment)} (${moment.iso})`, text: moment.human });
}

export function statusBadge(word) {
  return h("span", { class: `status status-${word}`, text: word, dataset: { status: word } });
}

export function panel(title, id, ...children) {
  return h("section", { class: "panel", id }, h("h2", { text: title }), ...children);
}

export function errorBox(message, id) {
  return h("div", { class: "error", id, role: "alert", text: message });
}

export function select(id, options, current, onchange) {
  return h(
    "select",
    { id, onchange },
    options.map(([value, label]) => h("option", { value, text: label, selected: value === current })),
  );
}

export function experimentLink(id) {
  return h("a", { href: `#/experiment/${encodeURIComponent(id)}`, class: "mono", text: id });
}
