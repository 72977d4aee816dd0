// Who the dashboard is signed in as: the chosen app and its audit token, kept in
// sessionStorage (gone when the tab closes, never sent anywhere but herald's own API).

import { Api } from "./api";

const APP_KEY = "herald.dashboard.app";
const tokenKey = (appId: string) => `herald.dashboard.token.${appId}`;

function storage(): Storage | null {
  try {
    return window.sessionStorage;
  } catch {
    return null; // storage disabled: the token lives only as long as the page
  }
}

let memory: Record<string, string> = {};

function get(key: string): string | null {
  return storage()?.getItem(key) ?? memory[key] ?? null;
}

function set(key: string, value: string | null): void {
  const s = storage();
  if (value === null) {
    s?.removeItem(key);
    delete memory[key];
  } else if (s) {
    s.setItem(key, value);
  } else {
    memory[key] = value;
  }
}

export function currentAppId(): string | null {
  return get(APP_KEY);
}

export function tokenFor(appId: string): string | null {
  return get(tokenKey(appId));
}

export function signIn(appId: string, token: string): void {
  set(APP_KEY, appId);
  set(tokenKey(appId), token);
}

/** Switches to another app; its token, if it was entered before in this tab, is kept. */
export function chooseApp(appId: string): void {
  set(APP_KEY, appId);
}

export function signOut(appId: string): void {
  set(tokenKey(appId), null);
}

/** The API of the signed-in app, or null when a token is still needed. */
export function currentApi(): Api | null {
  const appId = currentAppId();
  if (!appId) return null;
  const token = tokenFor(appId);
  return token ? new Api(appId, token) : null;
}

export function resetForTests(): void {
  memory = {};
}
