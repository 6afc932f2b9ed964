// Hand-written SVG charts: horizontal bars and a ring. Labels are set as text nodes;
// each chart carries role="img" and an aria-label that says what it shows in words.

const NS = "http://www.w3.org/2000/svg";
export const PALETTE = ["#8f1d1d", "#1f5c99", "#2f8a4a", "#b26b00", "#6b4c9a", "#4a4a4f", "#c2410c", "#0f766e"];

function svg(tag, attrs = {}, text) {
  const e = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
  if (text !== undefined) e.textContent = String(text);
  return e;
}

/**
 * Horizontal bars: rows [{label, value, color?, note?}]; `format(v)` writes values.
 * Resolves to an <svg> that scales to its container.
 */
export function bars(rows, { title = "", format = (v) => String(v), max = null, width = 460 } = {}) {
  const rowH = 28;
  const labelW = Math.min(170, Math.max(80, ...rows.map((r) => 14 * String(r.label).length)));
  const valueW = 80;
  const h = Math.max(rowH, rows.length * rowH) + 8;
  const top = max ?? Math.max(1, ...rows.map((r) => r.value));
  const plotW = width - labelW - valueW - 10;
  const s = svg("svg", { viewBox: `0 0 ${width} ${h}`, width, height: h, role: "img", "aria-label": `${title}：${rows.map((r) => `${r.label} ${format(r.value)}`).join("，")}` });
  if (title) s.append(svg("title", {}, title));
  rows.forEach((r, i) => {
    const y = 4 + i * rowH;
    const w = top ? Math.max(r.value > 0 ? 2 : 0, (plotW * r.value) / top) : 0;
    s.append(
      svg("text", { x: labelW - 8, y: y + rowH / 2 + 4, "text-anchor": "end" }, r.label),
      svg("rect", { x: labelW, y: y + 5, width: plotW, height: rowH - 10, fill: "#ececef", rx: 3 }),
      svg("rect", { x: labelW, y: y + 5, width: w, height: rowH - 10, fill: r.color || PALETTE[i % PALETTE.length], rx: 3 }),
      svg("text", { x: labelW + plotW + 8, y: y + rowH / 2 + 4, "font-weight": 600 }, format(r.value)),
    );
  });
  return s;
}

/** A ring of segments [{label, value, color?}] with the total (or `center`) inside. */
export function ring(segments, { title = "", center = null, size = 200 } = {}) {
  const total = segments.reduce((a, x) => a + x.value, 0);
  const r = size / 2 - 18;
  const c = 2 * Math.PI * r;
  const legendW = 180;
  const s = svg("svg", { viewBox: `0 0 ${size + legendW} ${size}`, width: size + legendW, height: size, role: "img", "aria-label": `${title}：${segments.map((x) => `${x.label} ${x.value}`).join("，")}` });
  if (title) s.append(svg("title", {}, title));
  s.append(svg("circle", { cx: size / 2, cy: size / 2, r, fill: "none", stroke: "#ececef", "stroke-width": 26 }));
  let offset = 0;
  segments.forEach((x, i) => {
    if (!total || !x.value) return;
    const len = (c * x.value) / total;
    s.append(
      svg("circle", {
        cx: size / 2,
        cy: size / 2,
        r,
        fill: "none",
        stroke: x.color || PALETTE[i % PALETTE.length],
        "stroke-width": 26,
        "stroke-dasharray": `${len} ${c - len}`,
        "stroke-dashoffset": -offset,
        transform: `rotate(-90 ${size / 2} ${size / 2})`,
      }),
    );
    offset += len;
  });
  s.append(svg("text", { x: size / 2, y: size / 2 + 8, "text-anchor": "middle", "font-size": 26, "font-weight": 700 }, center ?? total));
  segments.forEach((x, i) => {
    const y = 24 + i * 24;
    s.append(
      svg("rect", { x: size + 10, y: y - 12, width: 14, height: 14, fill: x.color || PALETTE[i % PALETTE.length], rx: 2 }),
      svg("text", { x: size + 30, y }, `${x.label} ${x.value}`),
    );
  });
  return s;
}

/** A percentage with one decimal, or "—" when there is nothing to divide. */
export function pct(n, d) {
  return d ? `${((100 * n) / d).toFixed(1)}%` : "—";
}
