// The live feed's source: every recorded event, in seq order, exactly once, resuming from
// the last seq it delivered after a pause, a network failure or a herald restart.
//
// It reads herald's live audit stream (`/audit/stream`, Server-Sent Events) through
// client-js's `AuditStream`, which reconnects with `?after=<last seq>`: herald replays what
// was missed from the store, then goes on live. Pausing closes the stream; resuming opens
// one after the last delivered seq, so nothing recorded meanwhile is skipped.

import { type Api, type EventSummary, isUnauthorized, type Query, reason } from "./api";

export type FeedStatus = "connecting" | "live" | "reconnecting" | "paused" | "unauthorized" | "failed" | "stopped";

export interface FeedHandlers {
  /** New events, oldest first; `backlog` for the ones already recorded when the feed started. */
  events(events: EventSummary[], backlog: boolean): void;
  status(status: FeedStatus, detail?: string): void;
}

/** Events arriving together (catching up) are handed over in one batch per this interval. */
const BATCH_MS = 50;
export class LiveFeed {
  private lastSeq = 0;
  private abort: AbortController | null = null;
  private pending: EventSummary[] = [];
  private flushTimer: number | undefined;
  private current: FeedStatus = "stopped";

  /** `filters`: the `/events` filters the feed is limited to (e.g. one model). */
  constructor(
    private readonly api: Api,
    private readonly filters: Query,
    private readonly on: FeedHandlers,
  ) {}

  /** The last seq delivered (0 before any). */
  get position(): number {
    return this.lastSeq;
  }

  /** Starts with the `backlog` newest events, then follows new ones. */
  async start(backlog: number): Promise<void> {
    this.setStatus("connecting");
    const abort = new AbortController();
    this.abort = abort;
    for (let attempt = 0; !abort.signal.aborted; attempt++) {
      try {
        const page = await this.api.events({ ...this.filters, limit: backlog });
        if (abort.signal.aborted) return;
        const events = page.results.slice().reverse();
        this.lastSeq = events.at(-1)?.seq ?? 0;
        if (events.length) this.on.events(events, true);
        break;
      } catch (e) {
        if (isUnauthorized(e)) return this.unauthorized(e);
        this.setStatus("reconnecting", `${reason(e)}. Retrying…`);
        await sleep(Math.min(4000, 250 * 2 ** attempt));
      }
    }
    void this.follow(abort);
  }

  pause(): void {
    this.halt();
    this.setStatus("paused");
  }

  /** Continues from the last delivered seq: everything recorded meanwhile arrives first. */
  resume(): void {
    if (this.abort) return;
    this.setStatus("connecting");
    const abort = new AbortController();
    this.abort = abort;
    void this.follow(abort);
  }

  stop(): void {
    this.halt();
    this.setStatus("stopped");
  }

  private halt(): void {
    this.abort?.abort();
    this.abort = null;
    this.flush();
  }

  private async follow(abort: AbortController): Promise<void> {
    const stream = this.api.stream(this.lastSeq, this.filters, abort.signal, (ok, why) => {
      if (abort.signal.aborted) return;
      if (ok) this.setStatus("live");
      else this.setStatus("reconnecting", `${why ?? "The stream was interrupted"}. Reconnecting; nothing is lost meanwhile.`);
    });
    try {
      for await (const event of stream) {
        if (abort.signal.aborted) break;
        if (event.seq <= this.lastSeq) continue;
        this.lastSeq = event.seq;
        this.pending.push(event);
        if (this.flushTimer === undefined) this.flushTimer = window.setTimeout(() => this.flush(), BATCH_MS);
      }
    } catch (e) {
      if (abort.signal.aborted) return;
      if (isUnauthorized(e)) return this.unauthorized(e);
      this.abort = null;
      this.setStatus("failed", `${reason(e)}. Reload the page to try again.`);
    }
  }

  private flush(): void {
    window.clearTimeout(this.flushTimer);
    this.flushTimer = undefined;
    if (this.pending.length) this.on.events(this.pending.splice(0), false);
  }

  private unauthorized(e: unknown): void {
    this.halt();
    this.setStatus("unauthorized", reason(e));
  }

  private setStatus(status: FeedStatus, detail?: string): void {
    if (status === this.current && detail === undefined) return;
    this.current = status;
    this.on.status(status, detail);
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => window.setTimeout(resolve, ms));
}
