// Integrity: the tamper-evident trail's verify status and signed checkpoints. When this
// herald has no hash chain (the endpoints answer 404) the page says exactly that and shows
// nothing that looks like a verification it did not do.

import type { CheckpointPage, VerifyReport } from "../api";
import { code, h, notice, replace } from "../dom";
import * as fmt from "../format";
import { links } from "../router";
import { type Ctx, errorNotice } from "./context";

/** Checkpoints listed on the page (the newest); all of them are in the API. */
const SHOWN = 20;

function noChain(): HTMLElement[] {
  return [
    notice(
      "info",
      "This herald build does not chain its audit records, so there is nothing to verify.",
      "Rows are append-only (the store refuses updates and deletes), but without a hash chain and signed checkpoints an edit made directly in the database would go unnoticed. This page shows no verification status rather than a reassuring one.",
    ),
    h("p", null, "Meanwhile, an export is a faithful copy of the trail: ", h("a", { href: links.search({}) }, "search and export"), "."),
  ];
}

function report(r: VerifyReport): HTMLElement {
  const range = `seq ${fmt.count(r.from)}–${fmt.count(r.to)}`;
  if (!r.ok && r.problem) {
    return notice(
      "error",
      `The audit trail is NOT intact: ${r.problem.kind} at seq ${fmt.count(r.problem.seq)}.`,
      r.problem.message,
      `. ${fmt.plural(r.verified, "event")} before it verified. Keep a copy of the store as it is and compare with your saved checkpoints (`,
      code("herald audit verify --checkpoints"),
      ").",
    );
  }
  return h(
    "div",
    { class: "notice notice-ok", role: "status", id: "verify-result" },
    h("p", { class: "notice-title" }, `Intact: ${fmt.plural(r.verified, "event")} verified (${range}).`),
    h(
      "p",
      null,
      `${fmt.plural(r.checkpoints, "signed checkpoint")} checked`,
      r.pruned ? `; ${fmt.count(r.pruned)} pruned events checked by their stored hashes` : "",
      ".",
    ),
    r.warnings.length ? h("ul", null, r.warnings.map((w) => h("li", null, w))) : null,
  );
}

function checkpointsTable(page: CheckpointPage): HTMLElement {
  const newest = page.checkpoints.slice(-SHOWN).reverse();
  if (newest.length === 0) {
    return notice("empty", "No checkpoints signed yet.", "herald signs one periodically once events are recorded.");
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
        h("thead", null, h("tr", null, h("th", { scope: "col", class: "num" }, "Seq"), h("th", { scope: "col" }, "Signed"), h("th", { scope: "col" }, "Chain hash"))),
        h(
          "tbody",
          null,
          newest.map((c) => h("tr", null, h("td", { class: "num" }, fmt.count(c.seq)), h("td", { class: "nowrap" }, fmt.timeEl(c.created_at)), h("td", { class: "wrap" }, h("code", null, c.hash)))),
        ),
      ),
    ),
    page.next ? h("p", { class: "muted" }, `Showing the first ${fmt.count(page.checkpoints.length)} checkpoints' newest ${SHOWN}; the API lists every one.`) : null,
  );
}

export async function integrity(ctx: Ctx): Promise<void> {
  ctx.title("Integrity");
  const body = h("div", { "aria-busy": "true" }, h("p", { class: "muted" }, "Loading…"));
  replace(ctx.main, body);
  let checkpoints: CheckpointPage | null;
  try {
    checkpoints = await ctx.api.checkpoints();
  } catch (e) {
    replace(body, errorNotice(e, ctx));
    body.removeAttribute("aria-busy");
    return;
  }
  body.removeAttribute("aria-busy");
  if (checkpoints === null) {
    replace(body, ...noChain());
    return;
  }
  const result = h("div", { "aria-live": "polite" });
  const button = h("button", { type: "button", class: "button primary", id: "verify-now" }, "Verify the whole trail");
  button.addEventListener("click", async () => {
    button.disabled = true;
    replace(result, h("p", { class: "muted", role: "status" }, "Recomputing the hash chain… (this reads every event)"));
    try {
      const r = await ctx.api.verify();
      replace(result, r ? report(r) : noChain()[0]!);
    } catch (e) {
      replace(result, errorNotice(e, ctx));
    } finally {
      button.disabled = false;
    }
  });
  replace(
    body,
    h("section", { class: "card", "aria-labelledby": "verify-heading" }, h("h2", { id: "verify-heading" }, "Verification"), h("p", null, "Recomputes every event's hash and checks each signed checkpoint against it."), button, result),
    h("section", { class: "card", "aria-labelledby": "cp-heading" }, h("h2", { id: "cp-heading" }, "Signed checkpoints"), checkpointsTable(checkpoints)),
  );
}
