// A bar chart drawn as SVG (no charting library: a few dozen lines instead of tens of KB).
// Each bar has a <title> with its exact value, and the whole chart has a text summary for
// screen readers; the numbers are also in the tables beside it.

import { h } from "../dom";
import * as fmt from "../format";

const SVG = "http://www.w3.org/2000/svg";

function svg<K extends keyof SVGElementTagNameMap>(tag: K, attrs: Record<string, string | number>): SVGElementTagNameMap[K] {
  const el = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
  return el;
}

export interface Bar {
  label: string;
  /** Longer text for the tooltip (defaults to label). */
  title?: string;
  value: number;
}

export function barChart(title: string, bars: Bar[]): HTMLElement {
  const width = 720;
  const height = 180;
  const left = 44;
  const bottom = 22;
  const top = 8;
  const max = Math.max(1, ...bars.map((b) => b.value));
  const plotW = width - left - 4;
  const plotH = height - bottom - top;
  const step = bars.length ? plotW / bars.length : plotW;
  const total = bars.reduce((s, b) => s + b.value, 0);
  const root = svg("svg", {
    viewBox: `0 0 ${width} ${height}`,
    class: "chart",
    role: "img",
    "aria-label": `${title}: ${fmt.plural(total, "event")} over ${fmt.plural(bars.length, "bar")}, at most ${fmt.count(max)} in one`,
  });
  for (const frac of [0, 0.5, 1]) {
    const y = top + plotH * (1 - frac);
    root.append(svg("line", { x1: left, x2: width, y1: y, y2: y, class: "grid" }));
    const t = svg("text", { x: left - 6, y: y + 4, "text-anchor": "end", class: "axis" });
    t.textContent = fmt.count(Math.round(max * frac));
    root.append(t);
  }
  const labelEvery = Math.max(1, Math.ceil(bars.length / 12));
  bars.forEach((b, i) => {
    const barH = (b.value / max) * plotH;
    const x = left + i * step + step * 0.12;
    const rect = svg("rect", {
      x,
      y: top + plotH - barH,
      width: Math.max(1, step * 0.76),
      height: Math.max(b.value ? 1 : 0, barH),
      class: "bar",
    });
    const tip = svg("title", {});
    tip.textContent = `${b.title ?? b.label}: ${fmt.plural(b.value, "event")}`;
    rect.append(tip);
    root.append(rect);
    if (i % labelEvery === 0) {
      const t = svg("text", { x: left + i * step + step / 2, y: height - 6, "text-anchor": "middle", class: "axis" });
      t.textContent = b.label;
      root.append(t);
    }
  });
  return h("figure", { class: "chart-figure" }, h("figcaption", null, title), root);
}

/** A breakdown table ("by model") with inline bars; each value links where `link` says. */
export function breakdown(
  title: string,
  column: string,
  rows: { key: string; count: number }[],
  link: (key: string) => string,
): HTMLElement {
  const max = Math.max(1, ...rows.map((r) => r.count));
  return h(
    "section",
    { class: "card breakdown", "aria-label": title },
    h("h3", null, title),
    rows.length === 0
      ? h("p", { class: "muted" }, "No events with this field in the range.")
      : h(
          "table",
          null,
          h("thead", null, h("tr", null, h("th", { scope: "col" }, column), h("th", { scope: "col", class: "num" }, "Events"))),
          h(
            "tbody",
            null,
            rows.map((r) =>
              h(
                "tr",
                null,
                h("td", null, h("a", { href: link(r.key) }, r.key), meter(r.count / max)),
                h("td", { class: "num" }, fmt.count(r.count)),
              ),
            ),
          ),
        ),
  );
}

/** A thin proportional bar. Its width is set through the CSSOM: the page's CSP forbids
 * inline style attributes. */
export function meter(fraction: number): HTMLElement {
  const fill = h("span");
  fill.style.width = `${Math.round(Math.max(0, Math.min(1, fraction)) * 100)}%`;
  return h("span", { class: "meter", "aria-hidden": "true" }, fill);
}
