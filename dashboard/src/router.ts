// Hash routes (`#/search?model=invoice`), so herald serves one page at /dashboard/ and
// every view — a search, an event, a user's history — has a link that can be shared.

export interface Route {
  /** Path segments, decoded: `#/models/invoice/objects/9` → ["models", "invoice", "objects", "9"]. */
  parts: string[];
  query: URLSearchParams;
}

export function current(): Route {
  const raw = location.hash.replace(/^#\/?/, "");
  const [path = "", search = ""] = raw.split("?", 2) as [string?, string?];
  const parts = path
    .split("/")
    .filter((p) => p !== "")
    .map((p) => {
      try {
        return decodeURIComponent(p);
      } catch {
        return p;
      }
    });
  return { parts, query: new URLSearchParams(search) };
}

/** Builds `#/a/b?x=1` from segments (each encoded) and a query (empty values dropped). */
export function href(parts: (string | number)[], query: Record<string, string | null | undefined> = {}): string {
  const path = parts.map((p) => encodeURIComponent(String(p))).join("/");
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) if (v) params.set(k, v);
  const q = params.toString();
  return `#/${path}${q ? `?${q}` : ""}`;
}

export function go(target: string): void {
  if (location.hash === target) window.dispatchEvent(new HashChangeEvent("hashchange"));
  else location.hash = target;
}

/** Links to the activity pages, used by every row. */
export const links = {
  event: (seq: number) => href(["events", seq]),
  user: (user: string) => href(["users", user]),
  model: (model: string) => href(["models", model]),
  object: (model: string, id: string) => href(["models", model, "objects", id]),
  search: (query: Record<string, string>) => href(["search"], query),
};
