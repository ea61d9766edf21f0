/*
 * The lesson page's layout controls (templates/lessons/lesson.html), and its address.
 *
 * On article and video stages the tutor chat is a side panel the learner can hide and
 * show again; the choice is remembered in localStorage for every lesson. On narrow
 * screens (where the chat comes after the stage) the "Chat with the tutor" link jumps
 * to it and hides itself while the chat is on screen. Works without this script: the
 * panel stays open and the link is a plain anchor.
 */
(function () {
  "use strict";

  const STORAGE_KEY = "tutor-chat-collapsed";
  const COLLAPSED_CLASS = "chat-collapsed";
  const layout = document.querySelector("[data-lesson-layout]");
  if (!layout) {
    return;
  }
  // The lesson's own address shows the current stage: the address bar says which.
  const stageUrl = layout.dataset.stageUrl;
  if (stageUrl && window.location.pathname !== stageUrl && window.history.replaceState) {
    window.history.replaceState(window.history.state, "", stageUrl + window.location.hash);
  }

  const collapse = layout.querySelector("[data-chat-collapse]");
  const jump = layout.querySelector("[data-jump-to-chat]");
  const panel = layout.querySelector("#chat-panel, #ai-notice");
  // Only side panels collapse: a chat stage's chat is the page.
  const collapsible = !layout.classList.contains("lesson-layout-chat");

  function remembered() {
    try {
      return window.localStorage.getItem(STORAGE_KEY) === "true";
    } catch (error) {
      return false;
    }
  }

  function remember(collapsed) {
    try {
      window.localStorage.setItem(STORAGE_KEY, String(collapsed));
    } catch (error) {
      // Not remembered; this page still shows it.
    }
  }

  function setCollapsed(collapsed) {
    layout.classList.toggle(COLLAPSED_CLASS, collapsed);
    collapse.setAttribute("aria-expanded", String(!collapsed));
    collapse.textContent = collapsed ? collapse.dataset.showLabel : collapse.dataset.hideLabel;
  }

  if (collapse && collapsible) {
    collapse.dataset.hideLabel = collapse.textContent.trim();
    collapse.dataset.showLabel = collapse.dataset.showText || "Show chat";
    collapse.hidden = false;
    setCollapsed(remembered());
    collapse.addEventListener("click", () => {
      const collapsed = !layout.classList.contains(COLLAPSED_CLASS);
      setCollapsed(collapsed);
      remember(collapsed);
    });
  }

  if (jump && panel) {
    jump.addEventListener("click", () => {
      // Opening a hidden side panel too, so the jump never lands on nothing.
      if (collapse && layout.classList.contains(COLLAPSED_CLASS)) {
        setCollapsed(false);
        remember(false);
      }
    });
    if ("IntersectionObserver" in window) {
      new IntersectionObserver((entries) => {
        jump.classList.toggle("jump-to-chat-away", entries[0].isIntersecting);
      }).observe(panel);
    }
  }
})();
