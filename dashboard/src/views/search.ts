// Search: every `/audit/events` filter, full text and a date range; server-side cursor
// paging (each page is one indexed query however deep, so it stays fast at millions of
// events); export of the current filter as CSV or NDJSON.

import type { Query } from "../api";
import { type Child, h, notice, replace } from "../dom";
import * as fmt from "../format";
import { href } from "../router";
import { eventRow, eventsTable } from "../ui/events-table";
import { exportButtons } from "../ui/export";
import { type Ctx, errorNotice } from "./context";

/** The filters, as the API names them, with their labels and hints. */
const FIELDS: [name: string, label: string, hint: string][] = [
  ["q", "Full text", "words in data, model, user, object, event or channels"],
  ["action", "Action", "created, updated, deleted…"],
  ["model", "Model", ""],
  ["user", "User", ""],
  ["object_id", "Object id", ""],
  ["channel", "Channel", ""],
  ["event", "Event name", ""],
  ["severity", "Severity", ""],
  ["status", "Status", ""],
  ["error", "Error", "the error the backend reported"],
  ["ip", "IP address", "the end user's IP the backend reported"],
];
const PAGE_SIZES = ["25", "50", "100", "200"];

/** Cursors of the pages before the current one, for "Previous" (reset when filters change). */
let trail: { key: string; cursors: string[] } = { key: "", cursors: [] };

export function filtersOf(q: URLSearchParams): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name] of FIELDS) {
    const v = q.get(name);
    if (v) out[name] = v;
  }
  for (const name of ["from", "to", "ordering"]) {
    const v = q.get(name);
    if (v) out[name] = v;
  }
  return out;
}

export async function search(ctx: Ctx): Promise<void> {
  ctx.title("Search");
  const q = ctx.route.query;
  const filters = filtersOf(q);
  const asked = q.get("limit") ?? "";
  const limit = PAGE_SIZES.includes(asked) ? asked : "50";
  const cursor = q.get("cursor");
  const key = JSON.stringify([filters, limit]);
  if (trail.key !== key) trail = { key, cursors: [] };

  const results = h("div", { id: "search-results", "aria-live": "polite", "aria-busy": "true" }, h("p", { class: "muted" }, "Searching…"));
  replace(ctx.main, filterForm(filters, limit), h("div", { class: "toolbar" }, exportButtons(ctx, filters)), results);

  const query: Query = { ...filters, limit, cursor };
  try {
    const page = await ctx.api.events(query);
    results.removeAttribute("aria-busy");
    if (page.results.length === 0) {
      replace(
        results,
        Object.keys(filters).length
          ? notice("empty", "No events match these filters.", "Remove a filter or widen the date range.")
          : notice("empty", "No events recorded yet.", "Events appear once backends trigger them through herald."),
      );
      return;
    }
    const pager: Child[] = [];
    const prev = trail.cursors.length ? trail.cursors[trail.cursors.length - 1] : null;
    if (cursor) {
      pager.push(
        h(
          "a",
          {
            class: "button",
            href: href(["search"], { ...filters, limit, cursor: prev }),
            onclick: () => void trail.cursors.pop(),
          },
          "← Previous page",
        ),
      );
    }
    if (page.next) {
      const next = page.next;
      pager.push(
        h(
          "a",
          {
            class: "button",
            rel: "next",
            href: href(["search"], { ...filters, limit, cursor: next }),
            onclick: () => void trail.cursors.push(cursor ?? ""),
          },
          "Next page →",
        ),
      );
    }
    replace(
      results,
      h("p", { class: "result-count", id: "result-count" }, `${fmt.plural(page.count, "event")} match`),
      eventsTable(
        "Matching events",
        page.results.map((e) => eventRow(e)),
      ),
      h("nav", { class: "pager", "aria-label": "Pages" }, pager),
    );
  } catch (e) {
    results.removeAttribute("aria-busy");
    replace(results, errorNotice(e, ctx));
  }
}

function filterForm(filters: Record<string, string>, limit: string): HTMLElement {
  const inputs: Record<string, HTMLInputElement | HTMLSelectElement> = {};
  const field = (name: string, label: string, hint: string, type = "text") => {
    const id = `f-${name}`;
    const input = h("input", {
      id,
      name,
      type,
      value: filters[name] ?? "",
      "aria-describedby": hint ? `${id}-hint` : null,
      autocomplete: "off",
    });
    inputs[name] = input;
    return h(
      "div",
      { class: "field" },
      h("label", { for: id }, label),
      input,
      hint ? h("small", { id: `${id}-hint`, class: "muted" }, hint) : null,
    );
  };
  const ordering = h(
    "select",
    { id: "f-ordering", name: "ordering" },
    h("option", { value: "", selected: !filters.ordering }, "Newest first"),
    h("option", { value: "seq", selected: filters.ordering === "seq" || filters.ordering === "time" }, "Oldest first"),
  );
  inputs.ordering = ordering;
  const size = h(
    "select",
    { id: "f-limit", name: "limit" },
    PAGE_SIZES.map((n) => h("option", { value: n, selected: n === limit }, n)),
  );
  const primary = ["q", "action", "model", "user"];
  const secondary = FIELDS.filter(([name]) => !primary.includes(name));
  const moreOpen = secondary.some(([name]) => filters[name]) || Boolean(filters.ordering) || limit !== "50";
  const form = h(
    "form",
    { class: "filters", role: "search", "aria-label": "Filter events" },
    FIELDS.filter(([name]) => primary.includes(name)).map(([name, label, hint]) =>
      field(name, label, hint, name === "q" ? "search" : "text"),
    ),
    field("from", "From (UTC day)", "", "date"),
    field("to", "To (UTC day, inclusive)", "", "date"),
    h(
      "details",
      { class: "more-filters", open: moreOpen },
      h("summary", null, "More filters, order and page size"),
      h(
        "div",
        { class: "filters-inner" },
        secondary.map(([name, label, hint]) => field(name, label, hint)),
        h("div", { class: "field" }, h("label", { for: "f-ordering" }, "Order"), ordering),
        h("div", { class: "field" }, h("label", { for: "f-limit" }, "Per page"), size),
      ),
    ),
    h(
      "div",
      { class: "field actions" },
      h("button", { type: "submit", class: "button primary" }, "Search"),
      h("a", { class: "button", href: href(["search"]) }, "Clear"),
    ),
  );
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    const query: Record<string, string> = {};
    for (const [name, input] of Object.entries(inputs)) if (input.value.trim()) query[name] = input.value.trim();
    if (size.value !== "50") query.limit = size.value;
    location.hash = href(["search"], query);
  });
  return form;
}
