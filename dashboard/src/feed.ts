// The live feed's source: every recorded event, in seq order, exactly once, resuming from
// the last seq it delivered after a pause, a network failure or a herald restart.
//
// It follows the audit trail by seq: `/events` in ascending order after the last delivered
// seq. herald numbers an app's events consecutively and a reader never sees seq N+1
// committed before N, so "everything after the last seq" can neither skip nor repeat an
// event. When herald's SSE stream (`/audit/stream`, issue 15) is on main, this is the
// piece that switches to it; the view does not change.

import { type Api, ApiError, type EventSummary } from "./api";

export type FeedStatus = "connecting" | "live" | "reconnecting" | "paused" | "unauthorized" | "stopped";

export interface FeedHandlers {
  /** New events, oldest first; `backlog` for the ones already recorded when the feed started. */
  events(events: EventSummary[], backlog: boolean): void;
  status(status: FeedStatus, detail?: string): void;
}

/** How often an idle feed asks for new events. */
const POLL_MS = 1000;
/** Events per request; a full page is followed at once (catching up after a pause). */
const PAGE = 500;
const MAX_BACKOFF_MS = 8000;

/** The `/events` cursor meaning "ascending, after `seq`" (format `v1:a:SEQ`, base64url). */
function cursorAfter(seq: number): string {
  return btoa(`v1:a:${seq}`).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

export class LiveFeed {
  private lastSeq = 0;
  private running = false;
  private timer: number | undefined;
  private abort: AbortController | null = null;
  private failures = 0;

  constructor(
    private readonly api: Api,
    private readonly on: FeedHandlers,
  ) {}

  /** The last seq delivered (0 before any). */
  get position(): number {
    return this.lastSeq;
  }

  /** Starts with the `backlog` newest events, then follows new ones. */
  async start(backlog: number): Promise<void> {
    this.running = true;
    this.on.status("connecting");
    try {
      const page = await this.api.events({ limit: backlog });
      const events = page.results.slice().reverse();
      this.lastSeq = events.length ? events[events.length - 1]!.seq : 0;
      if (events.length) this.on.events(events, true);
      this.failures = 0;
      this.on.status("live");
      this.schedule(POLL_MS);
    } catch (e) {
      this.failed(e, () => void this.start(backlog));
    }
  }

  pause(): void {
    this.halt();
    this.on.status("paused");
  }

  /** Continues from the last delivered seq: everything recorded meanwhile arrives first. */
  resume(): void {
    if (this.running) return;
    this.running = true;
    this.on.status("connecting");
    this.schedule(0);
  }

  stop(): void {
    this.halt();
    this.on.status("stopped");
  }

  private halt(): void {
    this.running = false;
    window.clearTimeout(this.timer);
    this.abort?.abort();
    this.abort = null;
  }

  private schedule(ms: number): void {
    window.clearTimeout(this.timer);
    if (this.running) this.timer = window.setTimeout(() => void this.poll(), ms);
  }

  private async poll(): Promise<void> {
    if (!this.running) return;
    this.abort = new AbortController();
    try {
      const page = await this.api.events(
        { cursor: cursorAfter(this.lastSeq), limit: PAGE },
        this.abort.signal,
      );
      if (!this.running) return;
      // Only strictly newer events, in order: a belt to the cursor's braces.
      const fresh = page.results.filter((e) => e.seq > this.lastSeq);
      if (fresh.length) {
        this.lastSeq = fresh[fresh.length - 1]!.seq;
        this.on.events(fresh, false);
      }
      this.failures = 0;
      this.on.status("live");
      this.schedule(page.next ? 0 : POLL_MS);
    } catch (e) {
      if (!this.running) return;
      this.failed(e, () => this.schedule(0));
    }
  }

  private failed(e: unknown, retry: () => void): void {
    if (e instanceof ApiError && e.unauthorized) {
      this.halt();
      this.on.status("unauthorized", e.message);
      return;
    }
    this.failures += 1;
    const wait = Math.min(MAX_BACKOFF_MS, 500 * 2 ** Math.min(this.failures, 5));
    const why = e instanceof Error ? e.message : String(e);
    this.on.status("reconnecting", `${why}. Retrying in ${Math.round(wait / 1000)} s; nothing is lost meanwhile.`);
    window.clearTimeout(this.timer);
    this.timer = window.setTimeout(() => {
      if (this.running) retry();
    }, wait);
  }
}
