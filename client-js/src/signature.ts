/**
 * Pusher's HTTP request signature, as herald verifies it on the audit API:
 * `auth_signature = hex(HMAC-SHA256(secret, METHOD + "\n" + PATH + "\n" + QS))`, where QS is
 * every query parameter but `auth_signature`, keys lower-cased and sorted, joined as `k=v`
 * with `&`, values not URL-escaped. `body_md5` is the MD5 of the raw body when there is one.
 *
 * HMAC uses WebCrypto (browsers, Node ≥ 19 as `globalThis.crypto`, Node 18 through
 * `node:crypto`). A secret belongs on a server: browsers should use a bearer token.
 */

import { md5Hex } from './md5.js';

/** What a request to sign consists of. */
export interface SignInput {
  key: string;
  secret: string;
  method: string;
  /** The path as sent, e.g. `/apps/1/audit/events`, without scheme, host or query. */
  path: string;
  /** Query parameters, decoded (not percent-escaped). */
  params?: Record<string, string>;
  /** The raw body; adds `body_md5` when non-empty. */
  body?: string;
  /** Unix seconds; now when omitted. */
  timestamp?: number;
}

/** The string Pusher's HMAC is computed over. */
export function stringToSign(method: string, path: string, params: Record<string, string>): string {
  const query = Object.entries(params)
    .filter(([k]) => k !== 'auth_signature')
    .map(([k, v]) => [k.toLowerCase(), v] as const)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([k, v]) => `${k}=${v}`)
    .join('&');
  return `${method.toUpperCase()}\n${path}\n${query}`;
}

/** HMAC-SHA256 of `message` keyed with `secret`, as lowercase hex. */
export async function hmacSha256Hex(secret: string, message: string): Promise<string> {
  const subtle = await webCrypto();
  const enc = new TextEncoder();
  const key = await subtle.importKey('raw', enc.encode(secret), { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);
  const mac = new Uint8Array(await subtle.sign('HMAC', key, enc.encode(message)));
  let hex = '';
  for (const byte of mac) hex += byte.toString(16).padStart(2, '0');
  return hex;
}

/**
 * The query parameters of a signed request: `params` plus `auth_key`, `auth_timestamp`,
 * `auth_version`, `body_md5` (with a body) and `auth_signature`.
 */
export async function signedParams(input: SignInput): Promise<Record<string, string>> {
  const params: Record<string, string> = {
    ...(input.params ?? {}),
    auth_key: input.key,
    auth_timestamp: String(input.timestamp ?? Math.floor(Date.now() / 1000)),
    auth_version: '1.0',
  };
  if (input.body) params.body_md5 = md5Hex(input.body);
  params.auth_signature = await hmacSha256Hex(input.secret, stringToSign(input.method, input.path, params));
  return params;
}

let subtleCache: SubtleCrypto | undefined;

async function webCrypto(): Promise<SubtleCrypto> {
  if (subtleCache) return subtleCache;
  const global = (globalThis as { crypto?: Crypto }).crypto;
  if (global?.subtle) {
    subtleCache = global.subtle;
    return subtleCache;
  }
  // Node 18 has WebCrypto only as a module. The specifier is a variable so that browser
  // bundlers do not try to resolve a Node built-in.
  const specifier = 'node:crypto';
  const mod = (await import(/* @vite-ignore */ specifier)) as { webcrypto: Crypto };
  subtleCache = mod.webcrypto.subtle;
  return subtleCache;
}
