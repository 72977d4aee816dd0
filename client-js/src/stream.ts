/**
 * [`AuditStream`]: herald's live audit stream (`GET /apps/{id}/audit/stream`, Server-Sent
 * Events) as an async iterator that reconnects and resumes by itself.
 *
 * Every event carries its `seq` as the SSE `id`, and herald's first block names the
 * position the stream starts after. The iterator remembers the last seq it saw and
 * reconnects with `?after=SEQ` — after a network error, a herald restart, a heartbeat that
 * never came, or herald cutting off a reader that fell behind — so the consumer sees each
 * event exactly once, in seq order. Authentication errors and bad filters (4xx) end the
 * iteration with an [`AuditApiError`] instead of retrying forever.
 */

import { AuditApiError } from './errors.js';
import type { AuditEventRecord } from './event.js';
import { type Connection, get, toParams } from './request.js';
import { readSse } from './sse.js';
import type { StreamOptions } from './types.js';

const DEFAULT_IDLE_TIMEOUT_MS = 45_000;
const DEFAULT_MAX_BACKOFF_MS = 5_000;
const FIRST_BACKOFF_MS = 100;

/** Why herald ended a stream on purpose (the `cutoff` message). */
export interface CutOff {
  reason: string;
  /** The seq to resume after. */
  resume_after: number;
}

export class AuditStream implements AsyncIterable<AuditEventRecord> {
  /** The last seq delivered (or the position the stream started after); null before herald said. */
  lastSeq: number | null;
  /** How many times the stream reconnected. */
  reconnects = 0;
  /** The cut-off messages herald sent, oldest first (a reader that fell behind). */
  readonly cutOffs: CutOff[] = [];

  readonly #conn: Connection;
  readonly #filters: Record<string, string>;
  readonly #idleTimeoutMs: number;
  readonly #maxBackoffMs: number;
  readonly #abort = new AbortController();
  #iterator: AsyncGenerator<AuditEventRecord> | undefined;

  constructor(conn: Connection, options: StreamOptions = {}) {
    this.#conn = conn;
    this.#filters = toParams(options, ['after', 'idleTimeoutMs', 'maxBackoffMs', 'signal']);
    this.lastSeq = options.after ?? null;
    this.#idleTimeoutMs = options.idleTimeoutMs ?? DEFAULT_IDLE_TIMEOUT_MS;
    this.#maxBackoffMs = options.maxBackoffMs ?? DEFAULT_MAX_BACKOFF_MS;
    if (options.signal) {
      if (options.signal.aborted) this.#abort.abort();
      options.signal.addEventListener('abort', () => this.close(), { once: true });
    }
  }

  /** Ends the stream; a pending `next()` resolves as done. */
  close(): void {
    this.#abort.abort();
  }

  get closed(): boolean {
    return this.#abort.signal.aborted;
  }

  /**
   * The one iterator of this stream: iterating again continues where the last loop
   * stopped (like a generator); leaving a `for await` loop early closes the stream.
   */
  [Symbol.asyncIterator](): AsyncIterator<AuditEventRecord> {
    this.#iterator ??= this.#run();
    return this.#iterator;
  }

  async *#run(): AsyncGenerator<AuditEventRecord> {
    let backoff = FIRST_BACKOFF_MS;
    try {
      while (!this.closed) {
        let delivered = false;
        try {
          for await (const record of this.#connectOnce()) {
            delivered = true;
            yield record;
          }
          // Herald ended the stream (restart, shutdown, cut-off): reconnect at once.
          backoff = FIRST_BACKOFF_MS;
          this.reconnects++;
          continue;
        } catch (err) {
          if (this.closed) return;
          if (err instanceof AuditApiError && err.status >= 400 && err.status < 500 && err.status !== 408) throw err;
          if (delivered) backoff = FIRST_BACKOFF_MS;
        }
        this.reconnects++;
        await sleep(backoff, this.#abort.signal);
        backoff = Math.min(backoff * 2, this.#maxBackoffMs);
      }
    } finally {
      this.close();
    }
  }

  /** One connection: yields its new events; returns when herald ends it, throws on errors. */
  async *#connectOnce(): AsyncGenerator<AuditEventRecord> {
    const attempt = new AbortController();
    const onClose = () => attempt.abort();
    this.#abort.signal.addEventListener('abort', onClose, { once: true });
    let idle: ReturnType<typeof setTimeout> | undefined;
    const armIdle = () => {
      clearTimeout(idle);
      idle = setTimeout(() => attempt.abort(), this.#idleTimeoutMs);
    };
    try {
      const params = { ...this.#filters };
      if (this.lastSeq !== null) params.after = String(this.lastSeq);
      armIdle();
      const res = await get(this.#conn, '/stream', params, {
        headers: { accept: 'text/event-stream' },
        signal: attempt.signal,
      });
      if (!res.body) throw new AuditApiError(res.status, 'GET /stream: the response has no body');
      for await (const message of readSse(res.body)) {
        armIdle();
        if (message === null) continue; // heartbeat
        if (message.event === 'cutoff' && message.data !== null) {
          this.cutOffs.push(JSON.parse(message.data) as CutOff);
          continue; // herald closes the stream right after it
        }
        const seq = message.id !== null && /^\d+$/.test(message.id) ? Number(message.id) : null;
        if (message.event === 'audit' && message.data !== null) {
          // Exactly once: herald resumes strictly after `after`, and this guards the rest.
          if (seq !== null && this.lastSeq !== null && seq <= this.lastSeq) continue;
          const record = JSON.parse(message.data) as AuditEventRecord;
          this.lastSeq = record.seq;
          yield record;
        } else if (seq !== null && (this.lastSeq === null || seq > this.lastSeq)) {
          // The opening block: the position this stream starts after.
          this.lastSeq = seq;
        }
      }
    } finally {
      clearTimeout(idle);
      this.#abort.signal.removeEventListener('abort', onClose);
      attempt.abort();
    }
  }
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}
