// What every view gets: the signed-in app's API, the element to render into, and a way to
// register cleanup (timers, the live feed) that runs when the user navigates away.

import type { Api } from "../api";
import { AuditApiError, reason } from "../api";
import { type Child, code, notice } from "../dom";
import type { Route } from "../router";

export interface Ctx {
  api: Api;
  main: HTMLElement;
  route: Route;
  /** Sets the page heading and the document title. */
  title(text: string): void;
  onLeave(cleanup: () => void): void;
  /** Called when a request is refused with 401: back to the token form, with the reason. */
  unauthorized(reason: string): void;
}

/** An error state for a failed request, with what to do about it. */
export function errorNotice(e: unknown, ctx: Ctx): HTMLElement {
  if (e instanceof AuditApiError) {
    const why = reason(e);
    if (e.status === 401) {
      ctx.unauthorized(why);
      return notice("error", "The token was refused.", "Enter the app's audit token again.");
    }
    if (e.status === 0) {
      return notice("error", "herald could not be reached.", "Check that it is running; this page retries when you reload or navigate.");
    }
    if (e.status === 400) {
      const advice: Child[] = [why];
      if (e.parameter) advice.push(" (", code(e.parameter), ")");
      return notice("error", "herald refused this query.", ...advice, ". Correct the field and search again.");
    }
    if (e.status === 404) return notice("error", "Not found.", why);
    if (e.status === 503) return notice("error", "The audit store could not answer.", why, " Try again in a moment.");
    return notice("error", `herald answered ${e.status}.`, why);
  }
  return notice("error", "Something went wrong.", e instanceof Error ? e.message : String(e));
}
