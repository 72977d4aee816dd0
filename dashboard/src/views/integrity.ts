// Integrity: the tamper-evident trail's verify status and checkpoints. This herald build has
// no hash chain yet, so the page says exactly that and shows nothing that looks like a
// verification it did not do.

import { code, h, notice, replace } from "../dom";
import { links } from "../router";
import type { Ctx } from "./context";

export async function integrity(ctx: Ctx): Promise<void> {
  ctx.title("Integrity");
  replace(
    ctx.main,
    notice(
      "info",
      "This herald build does not chain its audit records yet, so there is nothing to verify.",
      "Rows are append-only (the store refuses updates and deletes), but a hash chain with signed checkpoints — and ",
      code("herald audit verify"),
      " — is still to come. Until then this page shows no verification status rather than a reassuring one.",
    ),
    h("p", null, "Meanwhile, an export is a faithful copy of the trail: ", h("a", { href: links.search({}) }, "search and export"), "."),
  );
}
