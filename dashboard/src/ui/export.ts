// Export of the current filter as CSV or NDJSON. herald streams the file (constant memory
// on the server); the page reads the stream (client-js's `export`), shows its progress, and
// hands the result to the browser as a download.

import { isUnauthorized, reason } from "../api";
import { h } from "../dom";
import * as fmt from "../format";
import type { Ctx } from "../views/context";

const TYPES = { csv: "text/csv", ndjson: "application/x-ndjson" } as const;

/** `herald-audit-1-20261202T120426.csv`, like the server's own attachment name. */
function filename(appId: string, format: "csv" | "ndjson"): string {
  const stamp = new Date().toISOString().slice(0, 19).replace(/[-:]/g, "");
  return `herald-audit-${appId.replace(/[^A-Za-z0-9_-]/g, "_")}-${stamp}.${format}`;
}

export function exportButtons(ctx: Ctx, filters: Record<string, string>): HTMLElement {
  const status = h("span", { class: "muted", role: "status", id: "export-status" });
  let running: ReadableStreamDefaultReader<Uint8Array> | null = null;
  const run = async (format: "csv" | "ndjson") => {
    void running?.cancel();
    status.textContent = `Exporting ${format.toUpperCase()}…`;
    let reader: ReadableStreamDefaultReader<Uint8Array> | null = null;
    try {
      reader = (await ctx.api.export({ ...filters, format })).getReader();
      running = reader;
      const chunks: Uint8Array[] = [];
      let size = 0;
      let lines = 0;
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        chunks.push(value);
        size += value.length;
        for (const b of value) if (b === 10) lines += 1;
        status.textContent = `Exporting ${format.toUpperCase()}… ${fmt.bytes(size)}`;
      }
      if (running !== reader) return; // superseded by another export
      const name = filename(ctx.api.appId, format);
      const url = URL.createObjectURL(new Blob(chunks as BlobPart[], { type: TYPES[format] }));
      const a = h("a", { href: url, download: name, class: "visually-hidden" }, name);
      document.body.append(a);
      a.click();
      a.remove();
      window.setTimeout(() => URL.revokeObjectURL(url), 60_000);
      const rows = format === "ndjson" ? `${fmt.plural(lines, "event")}, ` : "";
      status.textContent = `Saved ${name} (${rows}${fmt.bytes(size)}).`;
    } catch (e) {
      if (reader && running !== reader) return;
      if (isUnauthorized(e)) ctx.unauthorized(reason(e));
      status.textContent = `Export failed: ${reason(e)}`;
    } finally {
      if (running === reader) running = null;
    }
  };
  ctx.onLeave(() => void running?.cancel());
  return h(
    "div",
    { class: "export", role: "group", "aria-label": "Export these events" },
    h("button", { type: "button", class: "button", id: "export-csv", onclick: () => void run("csv") }, "Export CSV"),
    h("button", { type: "button", class: "button", id: "export-ndjson", onclick: () => void run("ndjson") }, "Export NDJSON"),
    status,
  );
}
