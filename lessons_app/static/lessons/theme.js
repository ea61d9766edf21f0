/*
 * Light, dark or the system's theme for the learner pages (templates/base.html).
 *
 * Loaded in <head> without defer, so the remembered choice is on <html> before the page
 * is painted (no flash of the other theme); site.css follows prefers-color-scheme when
 * no data-theme is set. The chooser in the header needs this script, so it starts
 * hidden and is shown here. No inline script: the Content-Security-Policy forbids it.
 */
(function () {
  "use strict";

  const STORAGE_KEY = "tutor-theme";
  const THEMES = ["light", "dark", "system"];
  const root = document.documentElement;

  function stored() {
    try {
      const value = window.localStorage.getItem(STORAGE_KEY);
      return THEMES.includes(value) ? value : "system";
    } catch (error) {
      return "system"; // storage refused (private mode, blocked cookies)
    }
  }

  function apply(theme) {
    if (theme === "system") {
      delete root.dataset.theme;
    } else {
      root.dataset.theme = theme;
    }
  }

  function remember(theme) {
    try {
      window.localStorage.setItem(STORAGE_KEY, theme);
    } catch (error) {
      // Not remembered; this page still shows it.
    }
  }

  apply(stored());

  document.addEventListener("DOMContentLoaded", () => {
    const choice = document.querySelector("[data-theme-choice]");
    const select = choice && choice.querySelector("select");
    if (!select) {
      return;
    }
    select.value = stored();
    choice.hidden = false;
    select.addEventListener("change", () => {
      const theme = THEMES.includes(select.value) ? select.value : "system";
      apply(theme);
      remember(theme);
    });
  });
})();
