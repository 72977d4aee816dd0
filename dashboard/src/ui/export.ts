// Export of the current filter as CSV or NDJSON. herald streams the file (constant memory
// on the server); the page reads the stream with the token, shows its progress, and hands
// the result to the browser as a download.

import { ApiError } from "../api";
import { h } from "../dom";
import * as fmt from "../format";
import type { Ctx } from "../views/context";

function filenameOf(res: Response, fallback: string): string {
  const m = /filename="([^"]+)"/.exec(res.headers.get("content-disposition") ?? "");
  return m?.[1] ?? fallback;
}

export function exportButtons(ctx: Ctx, filters: Record<string, string>): HTMLElement {
  const status = h("span", { class: "muted", role: "status", id: "export-status" });
  let running: AbortController | null = null;
  const run = async (format: "csv" | "ndjson") => {
    running?.abort();
    const abort = new AbortController();
    running = abort;
    status.textContent = `Exporting ${format.toUpperCase()}…`;
    try {
      const res = await ctx.api.export({ ...filters, format }, abort.signal);
      const reader = res.body!.getReader();
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
      const name = filenameOf(res, `herald-audit.${format}`);
      const url = URL.createObjectURL(new Blob(chunks as BlobPart[], { type: res.headers.get("content-type") ?? "application/octet-stream" }));
      const a = h("a", { href: url, download: name, class: "visually-hidden" }, name);
      document.body.append(a);
      a.click();
      a.remove();
      window.setTimeout(() => URL.revokeObjectURL(url), 60_000);
      const rows = format === "ndjson" ? `${fmt.plural(lines, "event")}, ` : "";
      status.textContent = `Saved ${name} (${rows}${fmt.bytes(size)}).`;
    } catch (e) {
      if (abort.signal.aborted) return;
      if (e instanceof ApiError && e.unauthorized) ctx.unauthorized(e.message);
      status.textContent = `Export failed: ${e instanceof Error ? e.message : String(e)}`;
    } finally {
      if (running === abort) running = null;
    }
  };
  ctx.onLeave(() => running?.abort());
  return h(
    "div",
    { class: "export", role: "group", "aria-label": "Export these events" },
    h("button", { type: "button", class: "button", id: "export-csv", onclick: () => void run("csv") }, "Export CSV"),
    h("button", { type: "button", class: "button", id: "export-ndjson", onclick: () => void run("ndjson") }, "Export NDJSON"),
    status,
  );
}
