// Activity pages: one user's, one model's or one object's history, with the statistics of
// that selection and the events, paged by cursor.

import type { Activity } from "../api";
import { h, notice, replace } from "../dom";
import * as fmt from "../format";
import { href, links } from "../router";
import { barChart, breakdown } from "../ui/chart";
import { eventRow, eventsTable } from "../ui/events-table";
import { exportButtons } from "../ui/export";
import { type Ctx, errorNotice } from "./context";

export type Subject =
  | { kind: "user"; user: string }
  | { kind: "model"; model: string }
  | { kind: "object"; model: string; objectId: string };

function parts(s: Subject): string[] {
  if (s.kind === "user") return ["users", s.user];
  if (s.kind === "model") return ["models", s.model];
  return ["models", s.model, "objects", s.objectId];
}

export async function activity(ctx: Ctx, subject: Subject): Promise<void> {
  const title =
    subject.kind === "user"
      ? `User ${subject.user}`
      : subject.kind === "model"
        ? `Model ${subject.model}`
        : `${subject.model} #${subject.objectId}`;
  ctx.title(title);
  const cursor = ctx.route.query.get("cursor");
  const query = { limit: 50, cursor, top: 8 };
  const body = h("div", { "aria-busy": "true" }, h("p", { class: "muted" }, "Loading…"));
  const filters: Record<string, string> =
    subject.kind === "user"
      ? { user: subject.user }
      : subject.kind === "model"
        ? { model: subject.model }
        : { model: subject.model, object_id: subject.objectId };
  const crumbs =
    subject.kind === "object" ? h("p", null, "Part of ", h("a", { href: links.model(subject.model) }, `model ${subject.model}`)) : null;
  replace(ctx.main, crumbs, h("div", { class: "toolbar" }, exportButtons(ctx, filters)), body);
  let a: Activity;
  try {
    a =
      subject.kind === "user"
        ? await ctx.api.user(subject.user, query)
        : subject.kind === "model"
          ? await ctx.api.model(subject.model, query)
          : await ctx.api.object(subject.model, subject.objectId, query);
  } catch (e) {
    replace(body, errorNotice(e, ctx));
    return;
  }
  body.removeAttribute("aria-busy");
  if (a.count === 0) {
    replace(body, notice("empty", `No events recorded for ${title}.`, "Check the spelling; values are matched exactly."));
    return;
  }
  const s = a.stats;
  const side =
    subject.kind === "user"
      ? breakdown(
          "By model",
          "Model",
          s.by_model.map((r) => ({ key: r.model, count: r.count })),
          links.model,
        )
      : breakdown(
          "By user",
          "User",
          s.by_user.map((r) => ({ key: r.user, count: r.count })),
          links.user,
        );
  replace(
    body,
    h(
      "div",
      { class: "cards" },
      [
        ["Events", s.total],
        ["Today (UTC)", s.today],
        ["Last 7 days", s.last_7_days],
        ["Last 30 days", s.last_30_days],
      ].map(([label, n]) =>
        h(
          "div",
          { class: "card stat" },
          h("p", { class: "stat-label" }, String(label)),
          h("span", { class: "stat-value" }, fmt.count(Number(n))),
        ),
      ),
    ),
    h(
      "div",
      { class: "grid-2" },
      breakdown(
        "By action",
        "Action",
        s.by_action.map((r) => ({ key: r.action, count: r.count })),
        (k) => links.search({ ...filters, action: k }),
      ),
      side,
    ),
    s.per_day.length > 1
      ? h(
          "section",
          { class: "card" },
          barChart(
            "Events per day (UTC)",
            s.per_day.map((d) => ({ label: fmt.day(d.day), title: d.day, value: d.count })),
          ),
        )
      : null,
    h("h2", null, `History (${fmt.plural(a.count, "event")})`),
    eventsTable(
      `History of ${title}`,
      a.results.map((e) => eventRow(e)),
    ),
    h(
      "nav",
      { class: "pager", "aria-label": "Pages" },
      cursor ? h("a", { class: "button", href: href(parts(subject)) }, "← Newest") : null,
      a.next ? h("a", { class: "button", rel: "next", href: href(parts(subject), { cursor: a.next }) }, "Older →") : null,
    ),
  );
}
