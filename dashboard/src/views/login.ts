// The token form and app picker. Nothing is shown without a valid token; a refused token
// and an app without one each get a message saying what to do.

import { Api, type AppEntry, type AppList, isUnauthorized, reason } from "../api";
import { code, h, notice, replace } from "../dom";
import { chooseApp, signIn } from "../session";

export interface LoginOptions {
  main: HTMLElement;
  apps: AppList;
  appId: string | null;
  /** Why the user is here again (a refused token), shown above the form. */
  reason: string | null;
  done(appId: string): void;
}

function noToken(app: AppEntry, single: boolean): HTMLElement {
  return notice(
    "info",
    `App ${app.id} has no audit token, so its audit trail cannot be opened here.`,
    "Set ",
    code(`audit_token = "…"`),
    ` in its [[apps]] entry of herald's configuration file`,
    single ? [" (or the environment variable ", code("HERALD_APP_AUDIT_TOKEN"), ")"] : "",
    ", restart herald, then enter that token here. Use a long random value, e.g. from ",
    code("openssl rand -hex 32"),
    ".",
  );
}

export function login(opts: LoginOptions): void {
  const { main, apps } = opts;
  document.title = "Sign in · herald audit";
  const heading = document.getElementById("page-title");
  if (heading) heading.textContent = "Open the audit dashboard";
  if (!apps.audit_enabled) {
    replace(
      main,
      notice(
        "info",
        "Audit recording is off on this herald.",
        "It runs with ",
        code("HERALD_AUDIT_MODE=off"),
        ". Set it to durable (the default) or async and restart herald to record events.",
      ),
    );
    return;
  }
  if (apps.apps.length === 0) {
    replace(main, notice("error", "herald serves no apps.", "Configure at least one app and restart herald."));
    return;
  }
  const chosen = apps.apps.find((a) => a.id === opts.appId) ?? (apps.apps[0] as AppEntry);
  const single = apps.apps.length === 1;
  const message = h("div", { id: "login-message", "aria-live": "assertive" });
  if (opts.reason) message.append(notice("error", "The token was refused.", opts.reason, ". Enter the app's audit token again."));

  const picker = single
    ? null
    : h(
        "div",
        { class: "field" },
        h("label", { for: "app-select" }, "App"),
        h(
          "select",
          { id: "app-select", name: "app" },
          apps.apps.map((a) =>
            h(
              "option",
              { value: a.id, selected: a.id === chosen.id },
              `${a.id}${a.enabled ? "" : " (disabled)"}${a.audit_token ? "" : " — no audit token"}`,
            ),
          ),
        ),
      );
  const token = h("input", {
    id: "token",
    name: "token",
    type: "password",
    autocomplete: "off",
    spellcheck: "false",
    required: true,
    "aria-describedby": "token-hint",
  });
  const submit = h("button", { type: "submit", class: "button primary" }, "Open dashboard");
  const appHint = h("div", { id: "app-hint" });
  const form = h(
    "form",
    { class: "card login", "aria-labelledby": "page-title" },
    picker,
    appHint,
    h(
      "div",
      { class: "field" },
      h("label", { for: "token" }, "Audit token"),
      token,
      h(
        "small",
        { id: "token-hint", class: "muted" },
        "The app's audit_token. It is kept in this tab only (sessionStorage) and sent only to this herald.",
      ),
    ),
    submit,
  );
  const current = () =>
    apps.apps.find((a) => a.id === ((picker?.querySelector("select") as HTMLSelectElement | null)?.value ?? chosen.id)) ?? chosen;
  const refresh = () => {
    const app = current();
    const usable = app.audit_token && app.enabled;
    replace(
      appHint,
      !app.audit_token
        ? noToken(app, single)
        : !app.enabled
          ? notice("info", `App ${app.id} is disabled.`, "Set enabled = true in its [[apps]] entry to query it.")
          : null,
    );
    token.disabled = !usable;
    submit.disabled = !usable;
  };
  picker?.querySelector("select")?.addEventListener("change", () => {
    chooseApp(current().id);
    replace(message);
    refresh();
  });
  refresh();
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const app = current();
    const value = token.value.trim();
    if (!value) return;
    submit.disabled = true;
    replace(message, h("p", { class: "muted", role: "status" }, "Checking the token…"));
    try {
      await new Api(app.id, value).events({ limit: 1 });
      signIn(app.id, value);
      opts.done(app.id);
    } catch (e) {
      const why = isUnauthorized(e)
        ? notice(
            "error",
            `herald refused this token for app ${app.id}.`,
            "Check the value of audit_token in that app's configuration (it is case-sensitive). herald said: ",
            reason(e),
          )
        : notice("error", "The token could not be checked.", reason(e));
      replace(message, why);
      token.focus();
      token.select();
    } finally {
      submit.disabled = false;
    }
  });
  replace(main, message, form);
  (picker?.querySelector("select") ?? token).focus();
}
