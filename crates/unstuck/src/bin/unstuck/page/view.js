// The live view: reads the run folder's history.jsonl every second and draws every
// numeric series it finds. Each line is {"kind": {field: value, ...}}: the kind is the
// group, the x axis is the record's `step`, else its `epoch`, else its position, and
// every other numeric field is a series. New kinds and fields show up without any change
// here. No library and no build step: plain SVG.
"use strict";

const WIDTH = 300, HEIGHT = 170, PAD = 52;
const SVG = "http://www.w3.org/2000/svg";

function parse(text) {
  const groups = new Map();
  const end = text.lastIndexOf("\n");
  // A last line without its newline is still being written.
  for (const line of text.slice(0, end + 1).split("\n")) {
    if (!line) continue;
    let record;
    try { record = JSON.parse(line); } catch (e) { continue; }
    for (const [kind, fields] of Object.entries(record)) {
      if (fields === null || typeof fields !== "object") continue;
      const group = groups.get(kind) || { count: 0, series: new Map() };
      groups.set(kind, group);
      const x = typeof fields.step === "number" ? fields.step
        : typeof fields.epoch === "number" ? fields.epoch : group.count;
      group.count += 1;
      for (const [name, value] of Object.entries(fields)) {
        if (name === "step" || name === "epoch" || typeof value !== "number") continue;
        if (!isFinite(value)) continue;
        const points = group.series.get(name) || [];
        points.push([x, value]);
        group.series.set(name, points);
      }
    }
  }
  return groups;
}

function element(name, attributes) {
  const node = document.createElementNS(SVG, name);
  for (const [key, value] of Object.entries(attributes)) node.setAttribute(key, value);
  return node;
}

function format(value) {
  const a = Math.abs(value);
  return a !== 0 && (a < 1e-3 || a >= 1e4) ? value.toExponential(2) : value.toPrecision(3);
}

function chart(kind, name, points) {
  const figure = document.createElement("figure");
  figure.className = "series";
  figure.dataset.kind = kind;
  figure.dataset.name = name;
  figure.dataset.points = String(points.length);
  const xs = points.map(p => p[0]), ys = points.map(p => p[1]);
  const [x0, x1] = [Math.min(...xs), Math.max(...xs)];
  const [y0, y1] = [Math.min(...ys), Math.max(...ys)];
  const sx = x => PAD + (x1 > x0 ? (x - x0) / (x1 - x0) : 0.5) * (WIDTH - PAD - 8);
  const sy = y => HEIGHT - PAD + 14 - (y1 > y0 ? (y - y0) / (y1 - y0) : 0.5) * (HEIGHT - PAD - 6);
  const svg = element("svg", { width: WIDTH, height: HEIGHT, viewBox: `0 0 ${WIDTH} ${HEIGHT}` });
  svg.append(element("line", { class: "axis", x1: PAD, y1: HEIGHT - PAD + 14, x2: WIDTH - 8, y2: HEIGHT - PAD + 14 }));
  svg.append(element("line", { class: "axis", x1: PAD, y1: 6, x2: PAD, y2: HEIGHT - PAD + 14 }));
  const label = (text, x, y, anchor) => {
    const node = element("text", { x, y, "text-anchor": anchor });
    node.textContent = text;
    svg.append(node);
  };
  label(format(y1), PAD - 3, 12, "end");
  label(format(y0), PAD - 3, HEIGHT - PAD + 14, "end");
  label(String(x0), PAD, HEIGHT - 6, "start");
  label(String(x1), WIDTH - 8, HEIGHT - 6, "end");
  const xName = points.length && kind === "epoch" ? "epoch" : "step";
  label(xName, (WIDTH + PAD) / 2, HEIGHT - 6, "middle");
  svg.append(element("polyline", {
    class: "line",
    points: points.map(([x, y]) => `${sx(x).toFixed(1)},${sy(y).toFixed(1)}`).join(" "),
  }));
  const caption = document.createElement("figcaption");
  caption.textContent = `${name}: ${format(ys[ys.length - 1])} (${points.length} points)`;
  figure.append(caption, svg);
  return figure;
}

function render(groups) {
  const charts = document.getElementById("charts");
  charts.replaceChildren();
  let records = 0;
  for (const [kind, group] of groups) {
    records += group.count;
    if (group.series.size === 0) continue;
    const heading = document.createElement("h2");
    heading.textContent = `per ${kind}`;
    const row = document.createElement("div");
    row.className = "group";
    row.dataset.kind = kind;
    for (const [name, points] of group.series) row.append(chart(kind, name, points));
    charts.append(heading, row);
  }
  return records;
}

async function refresh() {
  const status = document.getElementById("status");
  try {
    const response = await fetch("run/history.jsonl", { cache: "no-store" });
    if (!response.ok) throw new Error(`history.jsonl: ${response.status}`);
    const records = render(parse(await response.text()));
    status.dataset.records = String(records);
    status.textContent = `${records} records, updated ${new Date().toLocaleTimeString()}`;
  } catch (error) {
    status.textContent = `waiting for the run (${error.message})`;
  }
}

async function title() {
  try {
    const run = await (await fetch("run/run.json", { cache: "no-store" })).json();
    document.getElementById("title").textContent =
      `${run.data} · ${run.model} · ${run.run.optim} · batch ${run.run.batch} · seed ${run.run.seed}`;
  } catch (error) { /* the title is a courtesy */ }
}

title();
refresh();
setInterval(refresh, 1000);
