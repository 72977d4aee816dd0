// Light and dark themes: the system's choice by default, or the user's, remembered in
// localStorage (a preference, not a secret).

import { h } from "./dom";

type Theme = "auto" | "light" | "dark";
const KEY = "herald.dashboard.theme";
const NEXT: Record<Theme, Theme> = { auto: "light", light: "dark", dark: "auto" };
const LABEL: Record<Theme, string> = { auto: "Theme: system", light: "Theme: light", dark: "Theme: dark" };

function saved(): Theme {
  try {
    const t = localStorage.getItem(KEY);
    return t === "light" || t === "dark" ? t : "auto";
  } catch {
    return "auto";
  }
}

function apply(theme: Theme): void {
  if (theme === "auto") delete document.documentElement.dataset.theme;
  else document.documentElement.dataset.theme = theme;
}

export function installTheme(slot: HTMLElement): void {
  let theme = saved();
  apply(theme);
  const button = h("button", { type: "button", class: "button", id: "theme-toggle" }, LABEL[theme]);
  button.addEventListener("click", () => {
    theme = NEXT[theme];
    apply(theme);
    button.textContent = LABEL[theme];
    try {
      if (theme === "auto") localStorage.removeItem(KEY);
      else localStorage.setItem(KEY, theme);
    } catch {
      // storage disabled: the choice lasts for this page
    }
  });
  slot.replaceChildren(button);
}
