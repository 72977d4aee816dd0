// The table of events used by the live feed, search and the activity pages. Every row links
// to the event's detail and to its user's, model's and object's history.

import type { EventSummary } from "../api";
import { h } from "../dom";
import * as fmt from "../format";
import { links } from "../router";

export function actionBadge(action: string | null): HTMLElement | string {
  if (!action) return "";
  const known = ["created", "updated", "deleted"].includes(action) ? action : "other";
  return h("span", { class: `badge badge-${known}` }, action);
}

export function eventRow(e: EventSummary, timeStyle: "ago" | "full" = "full"): HTMLTableRowElement {
  const model = e.model;
  return h(
    "tr",
    { "data-seq": e.seq },
    h("td", { class: "num" }, h("a", { href: links.event(e.seq), "aria-label": `Event ${e.seq} details` }, `#${e.seq}`)),
    h("td", { class: "nowrap" }, fmt.timeEl(e.received_at, timeStyle)),
    h("td", null, actionBadge(e.action)),
    h("td", null, model ? h("a", { href: links.model(model) }, model) : ""),
    h(
      "td",
      null,
      model && e.object_id
        ? h("a", { href: links.object(model, e.object_id) }, e.object_repr || e.object_id)
        : e.object_repr || e.object_id || "",
    ),
    h("td", { class: "wrap" }, e.user ? h("a", { href: links.user(e.user) }, e.user) : ""),
    h("td", { class: "wrap muted" }, e.name, h("br"), h("small", null, e.channels.join(", "))),
  );
}

/** A table with a caption (for screen readers) and the given rows. */
export function eventsTable(caption: string, rows: HTMLTableRowElement[], body?: HTMLTableSectionElement): HTMLElement {
  const tbody = body ?? h("tbody");
  tbody.replaceChildren(...rows);
  return h(
    "div",
    { class: "table-wrap" },
    h(
      "table",
      { class: "events" },
      h("caption", { class: "visually-hidden" }, caption),
      h(
        "thead",
        null,
        h(
          "tr",
          null,
          h("th", { scope: "col" }, "Seq"),
          h("th", { scope: "col" }, "Received"),
          h("th", { scope: "col" }, "Action"),
          h("th", { scope: "col" }, "Model"),
          h("th", { scope: "col" }, "Object"),
          h("th", { scope: "col" }, "User"),
          h("th", { scope: "col" }, "Event · channels"),
        ),
      ),
      tbody,
    ),
  );
}
