// Live: the feed of recorded events as they commit (pausable, gapless across disconnects),
// the connection status, events per minute, and the server view (connections, occupied
// channels with their subscriber counts, presence members).

import type { EventSummary, ServerView } from "../api";
import { code, h, notice, replace } from "../dom";
import { type FeedStatus, LiveFeed } from "../feed";
import * as fmt from "../format";
import { href } from "../router";
import { eventRow, eventsTable } from "../ui/events-table";
import { type Ctx, errorNotice } from "./context";

/** Rows kept on the page; older ones are in Search. */
const MAX_ROWS = 200;
const RATE_EVERY_MS = 10_000;
const SERVER_EVERY_MS = 5_000;

const STATUS_TEXT: Record<FeedStatus, string> = {
  connecting: "Connecting…",
  live: "Live",
  reconnecting: "Reconnecting…",
  paused: "Paused",
  unauthorized: "Token refused",
  failed: "Stopped by an error",
  stopped: "Stopped",
};

function card(label: string, value: HTMLElement, hint?: string): HTMLElement {
  return h(
    "div",
    { class: "card stat" },
    h("p", { class: "stat-label" }, label),
    value,
    hint ? h("p", { class: "stat-hint" }, hint) : null,
  );
}

/** The filters the live feed can be limited to (the stream and `/events` take them all). */
const FEED_FILTERS: [name: string, label: string][] = [
  ["model", "Model"],
  ["user", "User"],
  ["action", "Action"],
];

function feedFilterForm(current: Record<string, string>): HTMLElement {
  const inputs = FEED_FILTERS.map(([name, label]) => {
    const input = h("input", { id: `live-${name}`, name, type: "text", value: current[name] ?? "", autocomplete: "off" });
    return { name, input, field: h("div", { class: "field" }, h("label", { for: `live-${name}` }, label), input) };
  });
  const form = h(
    "form",
    { class: "filters inline", "aria-label": "Limit the feed" },
    inputs.map((i) => i.field),
    h("button", { type: "submit", class: "button" }, "Apply"),
    Object.keys(current).length ? h("a", { class: "button", href: href(["live"]) }, "Show all") : null,
  );
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    const query: Record<string, string> = {};
    for (const { name, input } of inputs) if (input.value.trim()) query[name] = input.value.trim();
    location.hash = href(["live"], query);
  });
  return form;
}

export async function live(ctx: Ctx): Promise<void> {
  ctx.title("Live");
  const filters: Record<string, string> = {};
  for (const [name] of FEED_FILTERS) {
    const v = ctx.route.query.get(name);
    if (v) filters[name] = v;
  }
  const limited = Object.keys(filters).length > 0;
  const statusEl = h("span", { class: "pill pill-connecting", id: "feed-status" }, STATUS_TEXT.connecting);
  const statusDetail = h("p", { class: "stat-hint", id: "feed-status-detail" });
  const rateEl = h("span", { class: "stat-value", id: "events-per-minute" }, "–");
  const connEl = h("span", { class: "stat-value", id: "node-connections" }, "–");
  const chanEl = h("span", { class: "stat-value", id: "occupied-channels" }, "–");
  const subsEl = h("span", { class: "stat-value" }, "–");
  const pauseBtn = h("button", { type: "button", class: "button", "aria-pressed": "false", id: "pause-feed" }, "Pause");
  const pausedNote = h("p", { class: "muted", role: "status" });
  const tbody = h("tbody", { id: "feed-rows" });
  const emptyFeed = limited
    ? notice(
        "empty",
        "No matching events yet.",
        "Events matching the filter appear here as they are recorded; “Show all” lifts the filter.",
      )
    : notice(
        "empty",
        "No events recorded yet.",
        "Events appear here as soon as a backend triggers them, e.g. ",
        code('pusher_client.trigger("audit-channel", "model-change", {...})'),
        ".",
      );
  const feedBox = h("div", null, emptyFeed);
  const serverBox = h("div", { id: "server-view" }, h("p", { class: "muted" }, "Loading…"));

  replace(
    ctx.main,
    h(
      "div",
      { class: "cards" },
      card("Connection", h("span", { class: "stat-value", role: "status", "aria-live": "polite" }, statusEl), undefined),
      card("Events per minute", rateEl, "recorded in the last 60 s"),
      card("Connections", connEl, "WebSocket clients on this node"),
      card("Occupied channels", chanEl),
      card("Subscriptions", subsEl, "across occupied channels"),
    ),
    statusDetail,
    h(
      "div",
      { class: "columns" },
      h(
        "section",
        { class: "card feed", "aria-labelledby": "feed-heading" },
        h(
          "div",
          { class: "section-head" },
          h("h2", { id: "feed-heading" }, limited ? "Recorded events (filtered)" : "Recorded events"),
          pauseBtn,
        ),
        feedFilterForm(filters),
        pausedNote,
        feedBox,
      ),
      h("section", { class: "card", "aria-labelledby": "server-heading" }, h("h2", { id: "server-heading" }, "Server"), serverBox),
    ),
  );

  let rows = 0;
  const table = eventsTable("Recorded events, newest first", [], tbody);
  const feed = new LiveFeed(ctx.api, filters, {
    events(events: EventSummary[], backlog: boolean) {
      if (rows === 0) replace(feedBox, table);
      for (const e of events) {
        const row = eventRow(e, "ago");
        if (!backlog) row.classList.add("new");
        tbody.prepend(row);
        rows += 1;
      }
      while (rows > MAX_ROWS && tbody.lastElementChild) {
        tbody.lastElementChild.remove();
        rows -= 1;
      }
    },
    status(status: FeedStatus, detail?: string) {
      statusEl.className = `pill pill-${status}`;
      statusEl.textContent = STATUS_TEXT[status];
      statusDetail.textContent = detail ?? "";
      if (status === "unauthorized") ctx.unauthorized(detail ?? "The token was refused.");
    },
  });
  pauseBtn.addEventListener("click", () => {
    const pausing = pauseBtn.getAttribute("aria-pressed") !== "true";
    pauseBtn.setAttribute("aria-pressed", String(pausing));
    pauseBtn.textContent = pausing ? "Resume" : "Pause";
    if (pausing) {
      feed.pause();
      pausedNote.textContent = `Paused after #${feed.position}. Resume to receive everything recorded since, in order.`;
    } else {
      pausedNote.textContent = "";
      feed.resume();
    }
  });
  ctx.onLeave(() => feed.stop());
  void feed.start(50);

  const updateRate = async () => {
    try {
      const from = new Date(Date.now() - 60_000).toISOString();
      const page = await ctx.api.events({ from, limit: 1 });
      rateEl.textContent = fmt.count(page.count);
    } catch {
      rateEl.textContent = "–";
    }
  };
  const updateServer = async () => {
    try {
      const view = await ctx.api.server();
      connEl.textContent = fmt.count(view.node_connections);
      chanEl.textContent = fmt.count(view.channels_total);
      subsEl.textContent = fmt.count(view.subscriptions_total);
      replace(serverBox, serverView(view));
    } catch (e) {
      replace(serverBox, errorNotice(e, ctx));
    }
  };
  void updateRate();
  void updateServer();
  const timers = [
    window.setInterval(() => document.visibilityState === "visible" && void updateRate(), RATE_EVERY_MS),
    window.setInterval(() => document.visibilityState === "visible" && void updateServer(), SERVER_EVERY_MS),
    window.setInterval(() => fmt.refreshAgo(tbody), 5000),
  ];
  ctx.onLeave(() => {
    for (const t of timers) window.clearInterval(t);
  });
}

function serverView(view: ServerView): HTMLElement {
  const where = view.cluster
    ? `Node ${view.node_id} of a cluster; channels and members are cluster-wide, connections are this node's.`
    : `Node ${view.node_id}.`;
  const channels =
    view.channels.length === 0
      ? notice("empty", "No occupied channels.", "A channel appears here once a client subscribes to it.")
      : h(
          "div",
          { class: "table-wrap" },
          h(
            "table",
            { id: "channels-table" },
            h("caption", { class: "visually-hidden" }, "Occupied channels"),
            h(
              "thead",
              null,
              h(
                "tr",
                null,
                h("th", { scope: "col" }, "Channel"),
                h("th", { scope: "col", class: "num" }, "Subscribers"),
                h("th", { scope: "col", class: "num" }, "Users"),
              ),
            ),
            h(
              "tbody",
              null,
              view.channels.map((c) =>
                h(
                  "tr",
                  null,
                  h("td", { class: "wrap" }, c.name),
                  h("td", { class: "num" }, fmt.count(c.subscription_count)),
                  h("td", { class: "num" }, c.user_count === undefined ? "" : fmt.count(c.user_count)),
                ),
              ),
            ),
          ),
        );
  const more =
    view.channels_total > view.channels.length
      ? h("p", { class: "muted" }, `Showing the ${fmt.count(view.channels.length)} busiest of ${fmt.count(view.channels_total)} channels.`)
      : null;
  const presence = view.presence.length
    ? h(
        "div",
        null,
        h("h3", null, "Presence members"),
        view.presence.map((p) =>
          h(
            "details",
            { class: "presence" },
            h("summary", null, `${p.channel} · ${fmt.plural(p.user_count, "member")}`),
            h(
              "ul",
              { class: "members" },
              p.members.map((m) => h("li", null, m)),
            ),
          ),
        ),
      )
    : null;
  return h("div", null, h("p", { class: "muted" }, where), channels, more, presence);
}
