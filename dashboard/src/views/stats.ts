// Statistics: totals (today, 7 and 30 days), breakdowns by action, model, user and channel,
// and a chart of events per day — or per hour for ranges of two days or less — over a
// chosen range.

import type { Api, Query, Stats } from "../api";
import { h, notice, replace } from "../dom";
import * as fmt from "../format";
import { href, links } from "../router";
import { type Bar, barChart, breakdown } from "../ui/chart";
import { type Ctx, errorNotice } from "./context";

const HOUR_MS = 3_600_000;
/** Hourly charts cost one count per hour (two index probes each): keep them short. */
const MAX_HOURS = 48;
const PRESETS: [string, string][] = [
  ["1", "Last 24 hours"],
  ["7", "7 days"],
  ["30", "30 days"],
  ["90", "90 days"],
  ["365", "1 year"],
];

/** The range of the route: `days=N`, or `from`/`to` dates (inclusive), default 7 days. */
function rangeQuery(q: URLSearchParams): Query {
  const from = q.get("from");
  const to = q.get("to");
  if (from || to) return { from, to };
  return { days: q.get("days") || "7" };
}

/** `[start, end)` in ms of a range, for the hourly chart. */
function rangeMs(range: Query, now: number): [number, number] {
  if (range.days) return [now - Number(range.days) * 86_400_000, now];
  const start = range.from ? Date.parse(`${range.from}T00:00:00Z`) : now - 86_400_000;
  const end = range.to ? Date.parse(`${range.to}T00:00:00Z`) + 86_400_000 : now;
  return [start, Math.min(end, now)];
}

/** An RFC 3339 instant with microseconds (`to` is inclusive of the instant given). */
function lastMicroBefore(ms: number): string {
  return new Date(ms - 1000).toISOString().replace(/\.\d{3}Z$/, ".999999Z");
}

/** Events per hour over `[start, end)`: one count query per hour, a few at a time. */
async function hourly(api: Api, start: number, end: number): Promise<Bar[]> {
  const first = Math.floor(start / HOUR_MS) * HOUR_MS;
  const hours: number[] = [];
  for (let t = first; t < end; t += HOUR_MS) hours.push(t);
  const bars: Bar[] = new Array(hours.length);
  let next = 0;
  const worker = async () => {
    while (next < hours.length) {
      const i = next++;
      const t = hours[i] ?? start;
      const page = await api.events({ from: new Date(Math.max(t, start)).toISOString(), to: lastMicroBefore(t + HOUR_MS), limit: 1 });
      bars[i] = { label: fmt.hour(t), title: `${fmt.time(new Date(t).toISOString())}`, value: page.count };
    }
  };
  await Promise.all([worker(), worker(), worker(), worker()]);
  return bars;
}

export async function stats(ctx: Ctx): Promise<void> {
  ctx.title("Statistics");
  const q = ctx.route.query;
  const range = rangeQuery(q);
  const perHour = q.get("per") === "hour";
  const body = h("div", { "aria-busy": "true" }, h("p", { class: "muted" }, "Loading…"));
  replace(ctx.main, rangeForm(q, range, perHour), body);
  let s: Stats;
  try {
    s = await ctx.api.stats({ ...range, top: 10, recent: 0 });
  } catch (e) {
    replace(body, errorNotice(e, ctx));
    return;
  }
  const totals = h(
    "div",
    { class: "cards" },
    [
      ["All time", s.total],
      ["Today (UTC)", s.today],
      ["Last 7 days", s.last_7_days],
      ["Last 30 days", s.last_30_days],
      ["In this range", s.range.count],
    ].map(([label, n]) =>
      h(
        "div",
        { class: "card stat" },
        h("p", { class: "stat-label" }, String(label)),
        h("span", { class: "stat-value" }, fmt.count(Number(n))),
      ),
    ),
  );
  if (s.total === 0) {
    replace(
      body,
      totals,
      notice("empty", "No events recorded yet.", "Statistics appear once backends trigger events through herald's HTTP API."),
    );
    body.removeAttribute("aria-busy");
    return;
  }
  let chart: HTMLElement;
  if (perHour) {
    const [start, end] = rangeMs(range, Date.now());
    if ((end - start) / HOUR_MS > MAX_HOURS) {
      chart = notice(
        "info",
        "The hourly chart covers two days at most.",
        "Choose “Last 24 hours” or a range of one or two days, or show the chart per day.",
      );
    } else {
      try {
        chart = barChart("Events per hour (local time)", await hourly(ctx.api, start, end));
      } catch (e) {
        chart = errorNotice(e, ctx);
      }
    }
  } else {
    chart = barChart(
      "Events per day (UTC)",
      s.per_day.map((d) => ({ label: fmt.day(d.day), title: d.day, value: d.count })),
    );
  }
  replace(
    body,
    totals,
    h("section", { class: "card" }, chart),
    h(
      "div",
      { class: "grid-2" },
      breakdown(
        "By action",
        "Action",
        s.by_action.map((r) => ({ key: r.action, count: r.count })),
        (k) => links.search({ action: k }),
      ),
      breakdown(
        "By model",
        "Model",
        s.by_model.map((r) => ({ key: r.model, count: r.count })),
        links.model,
      ),
      breakdown(
        "By user",
        "User",
        s.by_user.map((r) => ({ key: r.user, count: r.count })),
        links.user,
      ),
      breakdown(
        "By channel",
        "Channel",
        s.by_channel.map((r) => ({ key: r.channel, count: r.count })),
        (k) => links.search({ channel: k }),
      ),
    ),
  );
  body.removeAttribute("aria-busy");
}

function rangeForm(q: URLSearchParams, range: Query, perHour: boolean): HTMLElement {
  const per = perHour ? "hour" : null;
  const presets = h(
    "nav",
    { class: "presets", "aria-label": "Range" },
    PRESETS.map(([days, label]) =>
      h("a", { href: href(["stats"], { days, per }), class: "button", "aria-current": range.days === days ? "true" : null }, label),
    ),
  );
  const from = h("input", { type: "date", id: "stats-from", name: "from", value: q.get("from") ?? "" });
  const to = h("input", { type: "date", id: "stats-to", name: "to", value: q.get("to") ?? "" });
  const granularity = h(
    "select",
    { id: "stats-per", name: "per" },
    h("option", { value: "day", selected: !perHour }, "per day"),
    h("option", { value: "hour", selected: perHour }, "per hour"),
  );
  const form = h(
    "form",
    { class: "filters inline", "aria-label": "Custom range" },
    h("div", { class: "field" }, h("label", { for: "stats-from" }, "From (UTC day)"), from),
    h("div", { class: "field" }, h("label", { for: "stats-to" }, "To (UTC day)"), to),
    h("div", { class: "field" }, h("label", { for: "stats-per" }, "Chart"), granularity),
    h("button", { type: "submit", class: "button primary" }, "Show"),
  );
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    const query: Record<string, string | null> = { per: granularity.value === "hour" ? "hour" : null };
    if (from.value || to.value) {
      query.from = from.value || null;
      query.to = to.value || null;
    } else {
      query.days = String(range.days ?? "7");
    }
    location.hash = href(["stats"], query);
  });
  return h("div", { class: "toolbar" }, presets, form);
}
