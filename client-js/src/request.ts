/**
 * Builds and sends audit API requests: the query string from filters, and authentication by
 * bearer token or by Pusher request signature (key + secret).
 */

import { AuditApiError } from './errors.js';
import { signedParams } from './signature.js';

/** How [`AuditClient`] authenticates. */
export type Credentials = { token: string } | { key: string; secret: string };

export interface Connection {
  /** `http://host:port` (or `https://…`), without a trailing path. */
  baseUrl: string;
  appId: string;
  credentials: Credentials;
  fetch: typeof fetch;
}

type ParamValue = string | number | boolean | Date | null | undefined;

/** Turns options into query parameters: drops undefined/null, formats dates as RFC 3339. */
export function toParams(options: object, skip: readonly string[] = []): Record<string, string> {
  const params: Record<string, string> = {};
  for (const [k, v] of Object.entries(options as Record<string, ParamValue>)) {
    if (v === undefined || v === null || skip.includes(k)) continue;
    params[k] = v instanceof Date ? v.toISOString() : String(v);
  }
  return params;
}

/** The request's URL and headers, signed or with the bearer token. */
export async function prepare(
  conn: Connection,
  method: string,
  subPath: string,
  params: Record<string, string>,
  headers: Record<string, string> = {},
): Promise<{ url: string; headers: Record<string, string> }> {
  const path = `/apps/${encodeURIComponent(conn.appId)}/audit${subPath}`;
  const creds = conn.credentials;
  let query = params;
  const out: Record<string, string> = { ...headers };
  if ('token' in creds) {
    out.authorization = `Bearer ${creds.token}`;
  } else {
    query = await signedParams({ key: creds.key, secret: creds.secret, method, path, params });
  }
  const qs = new URLSearchParams(query).toString();
  return { url: `${conn.baseUrl.replace(/\/+$/, '')}${path}${qs ? `?${qs}` : ''}`, headers: out };
}

/** GET `subPath` and returns the response, throwing [`AuditApiError`] unless it is 2xx. */
export async function get(
  conn: Connection,
  subPath: string,
  params: Record<string, string>,
  init: { headers?: Record<string, string>; signal?: AbortSignal } = {},
): Promise<Response> {
  const { url, headers } = await prepare(conn, 'GET', subPath, params, init.headers);
  let res: Response;
  try {
    res = await conn.fetch(url, { method: 'GET', headers, ...(init.signal ? { signal: init.signal } : {}) });
  } catch (err) {
    if (init.signal?.aborted) throw err;
    throw new AuditApiError(0, `GET ${subPath}: herald could not be reached: ${String(err)}`);
  }
  if (!res.ok) throw await AuditApiError.fromResponse(res, `GET ${subPath}`);
  return res;
}

export async function getJson<T>(conn: Connection, subPath: string, params: Record<string, string>): Promise<T> {
  const res = await get(conn, subPath, params, { headers: { accept: 'application/json' } });
  return (await res.json()) as T;
}
