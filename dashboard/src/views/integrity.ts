// Integrity: the tamper-evident trail's verify status (on demand: it reads every event)
// and the newest signed checkpoints, with a download of all of them — the file that
// `herald audit verify --checkpoints` reads, for auditors to keep a copy elsewhere.

import type { Api, Checkpoint, CheckpointPage, VerifyReport } from "../api";
import { code, h, notice, replace } from "../dom";
import * as fmt from "../format";
import { type Ctx, errorNotice } from "./context";

/** Checkpoints listed on the page (the newest); the download has all of them. */
const SHOWN = 20;
/** Pages (of up to 1000 checkpoints) a download follows at most in one go. */
const MAX_PAGES = 1000;

/** Every page of checkpoints after `after`, merged. */
async function pagesAfter(api: Api, after: number, maxPages: number): Promise<CheckpointPage> {
  let page = await api.checkpoints(after);
  const all: Checkpoint[] = [...page.checkpoints];
  for (let i = 1; page.next !== null && i < maxPages; i++) {
    page = await api.checkpoints(page.next);
    all.push(...page.checkpoints);
  }
  return { ...page, checkpoints: all };
}

/**
 * The newest checkpoints. They are listed oldest first, so look back from the newest event
 * over a growing window until enough are found (checkpoints come every N events or T
 * seconds, so their spacing in seq varies).
 */
async function newest(api: Api): Promise<CheckpointPage> {
  const head = await api.events({ limit: 1 });
  const last = head.results[0]?.seq ?? 0;
  for (let window = 25_000; ; window *= 8) {
    const after = Math.max(0, last - window);
    const page = await pagesAfter(api, after, 5);
    if (page.checkpoints.length >= SHOWN || after === 0) return page;
  }
}

function report(r: VerifyReport): HTMLElement {
  const range = `seq ${fmt.count(r.from)}–${fmt.count(r.to)}`;
  if (!r.ok) {
    return h(
      "div",
      { id: "verify-result" },
      notice(
        "error",
        r.problem
          ? `The audit trail is NOT intact: ${r.problem.kind} at seq ${fmt.count(r.problem.seq)}.`
          : "The audit trail is NOT intact.",
        r.problem ? `${r.problem.message}. ` : "",
        `${fmt.plural(r.verified, "event")} before it verified. Keep a copy of the store as it is, and check it against your saved checkpoints with `,
        code("herald audit verify --checkpoints FILE"),
        ".",
      ),
    );
  }
  return h(
    "div",
    { class: "notice notice-ok", role: "status", id: "verify-result" },
    h(
      "p",
      { class: "notice-title" },
      r.verified ? `Intact: ${fmt.plural(r.verified, "event")} verified (${range}).` : "Intact: no events recorded yet.",
    ),
    h(
      "p",
      null,
      `${fmt.plural(r.checkpoints, "signed checkpoint")} checked`,
      r.pruned ? `; ${fmt.count(r.pruned)} pruned events checked by their stored hashes` : "",
      ".",
    ),
    r.warnings.length
      ? h(
          "ul",
          null,
          r.warnings.map((w) => h("li", null, w)),
        )
      : null,
  );
}

function checkpointsTable(page: CheckpointPage): HTMLElement {
  const shown = page.checkpoints.slice(-SHOWN).reverse();
  if (shown.length === 0) {
    return notice(
      "empty",
      "No checkpoint signed yet.",
      "herald signs one every 1,000 events, a minute after the first unsigned one, and at shutdown.",
    );
  }
  return h(
    "div",
    null,
    page.public_key ? h("p", null, "Signing key (Ed25519, base64): ", code(page.public_key)) : null,
    h(
      "div",
      { class: "table-wrap" },
      h(
        "table",
        { id: "checkpoints-table" },
        h("caption", { class: "visually-hidden" }, "Signed checkpoints, newest first"),
        h(
          "thead",
          null,
          h(
            "tr",
            null,
            h("th", { scope: "col", class: "num" }, "Up to seq"),
            h("th", { scope: "col" }, "Signed"),
            h("th", { scope: "col" }, "Chain hash"),
          ),
        ),
        h(
          "tbody",
          null,
          shown.map((c) =>
            h(
              "tr",
              null,
              h("td", { class: "num" }, fmt.count(c.seq)),
              h("td", { class: "nowrap" }, fmt.timeEl(c.created_at)),
              h("td", { class: "wrap" }, h("code", null, c.hash)),
            ),
          ),
        ),
      ),
    ),
  );
}

function downloadButton(ctx: Ctx): HTMLElement {
  const status = h("span", { class: "muted", role: "status", id: "checkpoints-status" });
  const button = h("button", { type: "button", class: "button", id: "save-checkpoints" }, "Save all checkpoints (JSON)");
  button.addEventListener("click", async () => {
    button.disabled = true;
    status.textContent = "Reading checkpoints…";
    try {
      const all = await pagesAfter(ctx.api, 0, MAX_PAGES);
      const json = JSON.stringify({ ...all, next: null }, null, 2);
      const url = URL.createObjectURL(new Blob([json], { type: "application/json" }));
      const name = `herald-checkpoints-${ctx.api.appId.replace(/[^A-Za-z0-9_-]/g, "_")}.json`;
      const a = h("a", { href: url, download: name, class: "visually-hidden" }, name);
      document.body.append(a);
      a.click();
      a.remove();
      window.setTimeout(() => URL.revokeObjectURL(url), 60_000);
      status.textContent = `Saved ${name} (${fmt.plural(all.checkpoints.length, "checkpoint")}).`;
    } catch (e) {
      status.textContent = `Could not read the checkpoints: ${e instanceof Error ? e.message : String(e)}`;
    } finally {
      button.disabled = false;
    }
  });
  return h("div", { class: "export" }, button, status);
}

export async function integrity(ctx: Ctx): Promise<void> {
  ctx.title("Integrity");
  const body = h("div", { "aria-busy": "true" }, h("p", { class: "muted" }, "Loading…"));
  replace(ctx.main, body);
  let checkpoints: CheckpointPage;
  try {
    checkpoints = await newest(ctx.api);
  } catch (e) {
    body.removeAttribute("aria-busy");
    replace(body, errorNotice(e, ctx));
    return;
  }
  body.removeAttribute("aria-busy");
  const result = h("div", { "aria-live": "polite" });
  const button = h("button", { type: "button", class: "button primary", id: "verify-now" }, "Verify the whole trail");
  button.addEventListener("click", async () => {
    button.disabled = true;
    replace(result, h("p", { class: "muted", role: "status" }, "Recomputing the hash chain… (this reads every event)"));
    try {
      replace(result, report(await ctx.api.verify()));
    } catch (e) {
      replace(result, errorNotice(e, ctx));
    } finally {
      button.disabled = false;
    }
  });
  replace(
    body,
    h(
      "section",
      { class: "card", "aria-labelledby": "verify-heading" },
      h("h2", { id: "verify-heading" }, "Verification"),
      h(
        "p",
        null,
        "Recomputes every event's hash from its stored fields, follows the chain, and checks each signed checkpoint against it.",
      ),
      button,
      result,
    ),
    h(
      "section",
      { class: "card", "aria-labelledby": "cp-heading" },
      h("h2", { id: "cp-heading" }, "Signed checkpoints"),
      h(
        "p",
        null,
        "Keep a copy of the checkpoints and the public key (",
        code("herald audit public-key"),
        ") outside herald: ",
        code("herald audit verify --checkpoints FILE"),
        " then also catches a trail whose tail and checkpoints were both deleted.",
      ),
      downloadButton(ctx),
      checkpointsTable(checkpoints),
    ),
  );
}
