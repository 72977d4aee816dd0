/**
 * A Server-Sent Events parser over a fetch body (EventSource cannot send an
 * `Authorization` header, and is not in Node). It follows the HTML standard's parsing
 * rules: lines end with CRLF, LF or CR; `:` starts a comment; a blank line dispatches; an
 * `id:` field is remembered even by a block that carries no data.
 */

/** One dispatched block. `data` is null for blocks without data (an `id:`-only block). */
export interface SseMessage {
  event: string;
  data: string | null;
  id: string | null;
  retry: number | null;
}

/** Yields every block of `body`, plus `null` for each comment (a heartbeat). */
export async function* readSse(body: ReadableStream<Uint8Array>): AsyncGenerator<SseMessage | null> {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  let buffer = '';
  let event = '';
  let data: string[] = [];
  let id: string | null = null;
  let retry: number | null = null;
  let sawField = false;
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      buffer += decoder.decode(value, { stream: true });
      for (;;) {
        const end = lineEnd(buffer);
        if (end === null) break;
        const line = buffer.slice(0, end.at);
        buffer = buffer.slice(end.at + end.length);
        if (line === '') {
          if (sawField) yield { event: event || 'message', data: data.length ? data.join('\n') : null, id, retry };
          event = '';
          data = [];
          id = null;
          retry = null;
          sawField = false;
          continue;
        }
        if (line.startsWith(':')) {
          yield null;
          continue;
        }
        const colon = line.indexOf(':');
        const field = colon < 0 ? line : line.slice(0, colon);
        let value = colon < 0 ? '' : line.slice(colon + 1);
        if (value.startsWith(' ')) value = value.slice(1);
        sawField = true;
        if (field === 'event') event = value;
        else if (field === 'data') data.push(value);
        else if (field === 'id' && !value.includes('\0')) id = value;
        else if (field === 'retry' && /^\d+$/.test(value)) retry = Number(value);
      }
    }
  } finally {
    reader.releaseLock();
    await body.cancel().catch(() => {});
  }
}

/** Where the first complete line of `buffer` ends. A trailing CR waits for a possible LF. */
function lineEnd(buffer: string): { at: number; length: number } | null {
  for (let i = 0; i < buffer.length; i++) {
    const c = buffer.charCodeAt(i);
    if (c === 10) return { at: i, length: 1 };
    if (c === 13) {
      if (i + 1 === buffer.length) return null;
      return { at: i, length: buffer.charCodeAt(i + 1) === 10 ? 2 : 1 };
    }
  }
  return null;
}
