// Numbers and times for people: grouped digits, local times with the exact UTC instant on
// hover, "3 min ago" for recent events.

import { h } from "./dom";

const integer = new Intl.NumberFormat(undefined, { maximumFractionDigits: 0 });
const decimal = new Intl.NumberFormat(undefined, { maximumFractionDigits: 1 });
const dateTime = new Intl.DateTimeFormat(undefined, {
  year: "numeric",
  month: "short",
  day: "numeric",
  hour: "2-digit",
  minute: "2-digit",
  second: "2-digit",
});
const dayOnly = new Intl.DateTimeFormat(undefined, { month: "short", day: "numeric", timeZone: "UTC" });
const hourOnly = new Intl.DateTimeFormat(undefined, { hour: "2-digit", minute: "2-digit" });
const relative = new Intl.RelativeTimeFormat(undefined, { numeric: "auto", style: "short" });

export function count(n: number): string {
  return integer.format(n);
}

export function rate(n: number): string {
  return decimal.format(n);
}

/** "1 event" / "1,234 events". */
export function plural(n: number, one: string, many = `${one}s`): string {
  return `${count(n)} ${n === 1 ? one : many}`;
}

export function bytes(n: number): string {
  if (n < 1024) return `${count(n)} B`;
  if (n < 1024 * 1024) return `${decimal.format(n / 1024)} KB`;
  return `${decimal.format(n / 1024 / 1024)} MB`;
}

/** Local date and time, e.g. "Dec 2, 2026, 12:04:26". */
export function time(iso: string): string {
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : dateTime.format(d);
}

/** "12 s ago", "5 min ago", "yesterday"; falls back to the date beyond a week. */
export function ago(iso: string, now = Date.now()): string {
  const t = new Date(iso).getTime();
  if (Number.isNaN(t)) return iso;
  const s = Math.round((t - now) / 1000);
  const abs = Math.abs(s);
  if (abs < 5) return "just now";
  if (abs < 60) return relative.format(s, "second");
  if (abs < 3600) return relative.format(Math.round(s / 60), "minute");
  if (abs < 86400) return relative.format(Math.round(s / 3600), "hour");
  if (abs < 7 * 86400) return relative.format(Math.round(s / 86400), "day");
  return time(iso);
}

/** A `<time>` element: relative or local text, the exact UTC instant as its tooltip. */
export function timeEl(iso: string, style: "ago" | "full" = "full"): HTMLElement {
  return h(
    "time",
    { datetime: iso, title: `${iso} (UTC)`, "data-ago": style === "ago" ? "1" : null },
    style === "ago" ? ago(iso) : time(iso),
  );
}

/** Refreshes every relative time on the page (called on a timer). */
export function refreshAgo(root: ParentNode = document): void {
  for (const el of root.querySelectorAll<HTMLTimeElement>("time[data-ago]")) {
    el.textContent = ago(el.dateTime);
  }
}

/** A `YYYY-MM-DD` day (UTC, as the server's per-day series) for chart labels. */
export function day(ymd: string): string {
  const d = new Date(`${ymd}T00:00:00Z`);
  return Number.isNaN(d.getTime()) ? ymd : dayOnly.format(d);
}

export function hour(ms: number): string {
  return hourOnly.format(new Date(ms));
}

/** A JSON value as short text for tables and diffs (`null` stays visible as "null"). */
export function value(v: unknown): string {
  if (v === undefined) return "";
  if (typeof v === "string") return v;
  return JSON.stringify(v);
}
