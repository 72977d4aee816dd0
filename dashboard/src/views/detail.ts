// One event in full: its audit fields (linked to the activity pages), `changes` as a
// before/after diff, where it came from (IP, library, key), and the raw data as received.

import type { Change, EventRecord } from "../api";
import { type Child, h, notice, replace } from "../dom";
import * as fmt from "../format";
import { links } from "../router";
import { actionBadge } from "../ui/events-table";
import { type Ctx, errorNotice } from "./context";

function row(label: string, ...value: Child[]): HTMLElement[] {
  return [
    h("dt", null, label),
    h("dd", null, ...(value.length && value.some((v) => v !== null && v !== "") ? value : [h("span", { class: "muted" }, "—")])),
  ];
}

function diff(changes: Record<string, Change>): HTMLElement {
  const fields = Object.keys(changes);
  if (fields.length === 0) return notice("empty", "The event lists no changed fields.");
  const cell = (kind: "old" | "new", v: unknown) =>
    v === null || v === undefined
      ? h("td", { class: `diff-${kind} diff-none` }, h("span", { class: "muted" }, v === null ? "null" : "(absent)"))
      : h("td", { class: `diff-${kind}` }, h(kind === "old" ? "del" : "ins", null, fmt.value(v)));
  return h(
    "div",
    { class: "table-wrap" },
    h(
      "table",
      { class: "diff", id: "changes-diff" },
      h("caption", null, `Changes (${fmt.plural(fields.length, "field")})`),
      h(
        "thead",
        null,
        h("tr", null, h("th", { scope: "col" }, "Field"), h("th", { scope: "col" }, "Before"), h("th", { scope: "col" }, "After")),
      ),
      h(
        "tbody",
        null,
        Object.entries(changes).map(([f, c]) => h("tr", null, h("th", { scope: "row" }, f), cell("old", c.old), cell("new", c.new))),
      ),
    ),
  );
}

function rawData(data: string): string {
  try {
    return JSON.stringify(JSON.parse(data), null, 2);
  } catch {
    return data; // not JSON (an encrypted payload, plain text): shown exactly as received
  }
}

export async function detail(ctx: Ctx, seq: string): Promise<void> {
  ctx.title(`Event #${seq}`);
  let e: EventRecord;
  try {
    e = await ctx.api.event(seq);
  } catch (err) {
    replace(ctx.main, errorNotice(err, ctx));
    return;
  }
  const model = e.model;
  replace(
    ctx.main,
    h(
      "div",
      { class: "grid-2" },
      h(
        "section",
        { class: "card", "aria-labelledby": "what-heading" },
        h("h2", { id: "what-heading" }, "What happened"),
        h(
          "dl",
          { class: "facts" },
          row("Action", actionBadge(e.action)),
          row("Model", model ? h("a", { href: links.model(model) }, model) : null),
          row(
            "Object",
            model && e.object_id
              ? h("a", { href: links.object(model, e.object_id) }, e.object_repr || e.object_id)
              : e.object_repr || e.object_id,
          ),
          row("User", e.user ? h("a", { href: links.user(e.user), id: "detail-user" }, e.user) : null),
          row("Backend timestamp", e.timestamp),
          row("Severity", e.severity),
          row("Status", e.status),
          row("Error", e.error ?? null),
          row("End user's IP", e.ip ?? null),
        ),
      ),
      h(
        "section",
        { class: "card", "aria-labelledby": "how-heading" },
        h("h2", { id: "how-heading" }, "How it was recorded"),
        h(
          "dl",
          { class: "facts" },
          row("Seq", fmt.count(e.seq)),
          row("Received", fmt.timeEl(e.received_at), " ", h("small", { class: "muted" }, e.received_at)),
          row("Event", e.name),
          row("Channels", e.channels.join(", ")),
          row("Socket excluded", e.socket_id),
          row("Client IP", e.client_ip),
          row("Library", e.library),
          row("User agent", e.user_agent),
          row("Signing key", e.auth_key),
          row("Idempotency key", e.idempotency_key),
        ),
      ),
    ),
    h(
      "section",
      { class: "card", "aria-label": "Changes" },
      e.changes
        ? diff(e.changes)
        : notice("empty", "This event carries no changes.", "Only events whose data has a changes object show a diff."),
    ),
    h(
      "section",
      { class: "card", "aria-labelledby": "raw-heading" },
      h("h2", { id: "raw-heading" }, "Data as received"),
      h("pre", { class: "raw", tabindex: "0" }, rawData(e.data)),
    ),
  );
}
