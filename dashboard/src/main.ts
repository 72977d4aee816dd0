// The dashboard's entry point: the page frame (app picker, navigation, theme), the route
// table, and the rule that nothing but the token form is shown without a valid token.

import { type AppList, listApps } from "./api";
import { h, notice, replace } from "./dom";
import { current, href } from "./router";
import { chooseApp, currentApi, currentAppId, signOut, tokenFor } from "./session";
import { installTheme } from "./theme";
import { activity } from "./views/activity";
import type { Ctx } from "./views/context";
import { detail } from "./views/detail";
import { integrity } from "./views/integrity";
import { live } from "./views/live";
import { login } from "./views/login";
import { search } from "./views/search";
import { stats } from "./views/stats";

const main = document.getElementById("main") as HTMLElement;
const heading = document.getElementById("page-title") as HTMLElement;
const nav = document.getElementById("nav") as HTMLElement;
const appSlot = document.getElementById("app-slot") as HTMLElement;

const NAV: [route: string, label: string][] = [
  ["live", "Live"],
  ["stats", "Statistics"],
  ["search", "Search"],
  ["integrity", "Integrity"],
];

let apps: AppList | null = null;
const leaving: (() => void)[] = [];
let refusal: string | null = null;

function leave(): void {
  for (const f of leaving.splice(0)) {
    try {
      f();
    } catch {
      // a cleanup failing must not keep the next view from rendering
    }
  }
}

function frame(signedIn: boolean, appId: string | null): void {
  const route = current().parts[0] ?? "live";
  replace(nav, signedIn ? NAV.map(([r, label]) => h("a", { href: href([r]), "aria-current": route === r ? "page" : null }, label)) : null);
  const several = (apps?.apps.length ?? 0) > 1;
  const picker =
    signedIn && several && appId
      ? h(
          "label",
          { class: "app-picker" },
          "App ",
          h(
            "select",
            {
              id: "app-switch",
              onchange: (ev: Event) => {
                chooseApp((ev.target as HTMLSelectElement).value);
                void render();
              },
            },
            (apps?.apps ?? []).map((a) => h("option", { value: a.id, selected: a.id === appId }, a.id)),
          ),
        )
      : signedIn && appId
        ? h("span", { class: "muted" }, `App ${appId}`)
        : null;
  const out =
    signedIn && appId
      ? h(
          "button",
          {
            type: "button",
            class: "button",
            id: "sign-out",
            onclick: () => {
              signOut(appId);
              refusal = null;
              void render();
            },
          },
          "Sign out",
        )
      : null;
  replace(appSlot, picker, out);
}

/** Renders the current route; `navigated` moves focus to the new content (not on first load,
 * where focus stays at the top of the page, before the skip link). */
async function render(navigated = false): Promise<void> {
  leave();
  if (!apps) {
    try {
      apps = await listApps();
    } catch (e) {
      frame(false, null);
      heading.textContent = "herald audit";
      replace(
        main,
        notice("error", "herald could not be reached.", e instanceof Error ? e.message : String(e), " Reload the page once it is running."),
      );
      return;
    }
  }
  let appId = currentAppId();
  if (!appId || !apps.apps.some((a) => a.id === appId)) {
    appId = apps.apps[0]?.id ?? null;
    if (appId) chooseApp(appId);
  }
  const api = currentApi();
  if (!api || !appId || !tokenFor(appId)) {
    frame(false, appId);
    login({
      main,
      apps,
      appId,
      reason: refusal,
      done: () => {
        refusal = null;
        if (!current().parts.length) location.hash = href(["live"]);
        void render();
      },
    });
    return;
  }
  frame(true, appId);
  const route = current();
  const ctx: Ctx = {
    api,
    main,
    route,
    title(text: string) {
      heading.textContent = text;
      document.title = `${text} · herald audit · app ${appId}`;
    },
    onLeave(f) {
      leaving.push(f);
    },
    unauthorized(reason: string) {
      signOut(appId);
      refusal = reason;
      void render();
    },
  };
  if (navigated) main.focus({ preventScroll: true });
  const [first, second, third, fourth] = route.parts;
  try {
    switch (first) {
      case undefined:
      case "live":
        return await live(ctx);
      case "stats":
        return await stats(ctx);
      case "search":
        return await search(ctx);
      case "integrity":
        return await integrity(ctx);
      case "events":
        if (second) return await detail(ctx, second);
        break;
      case "users":
        if (second) return await activity(ctx, { kind: "user", user: second });
        break;
      case "models":
        if (second && third === "objects" && fourth) return await activity(ctx, { kind: "object", model: second, objectId: fourth });
        if (second && !third) return await activity(ctx, { kind: "model", model: second });
        break;
    }
    ctx.title("Not found");
    replace(main, notice("error", "There is no such page.", h("a", { href: href(["live"]) }, "Go to the live view"), "."));
  } catch (e) {
    replace(main, notice("error", "This page failed to render.", e instanceof Error ? e.message : String(e)));
  }
}

installTheme(document.getElementById("theme-slot") as HTMLElement);
// The skip link must not change the hash (that is the router's): it moves focus instead.
document.querySelector(".skip-link")?.addEventListener("click", (ev) => {
  ev.preventDefault();
  main.focus();
});
window.addEventListener("hashchange", () => void render(true));
void render();
