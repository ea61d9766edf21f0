// Stage forms in the admin: show only the fieldset of the chosen kind
// (Article, Video or Chat). With no kind chosen yet, every fieldset shows.
// Fieldsets carrying errors are never hidden, so no message goes unseen.
//
// For an article, the excerpt preview follows the body and anchors as they are
// edited: after a pause in typing, the text goes to the admin's excerpt-preview
// view, which answers {"excerpt": ...} or {"error": ...}; nothing is saved. The
// answer is shown with textContent only, never as HTML. Other kinds keep the
// preview as last saved, which the server renders (and which is all there is
// without JavaScript).
"use strict";
(function () {
  const KIND_SELECT = 'select[name="kind"], select[name$="-kind"]';
  const FIELDSET = "fieldset.stage-kind";
  const PREFIX = "stage-kind-";
  const PREVIEW = "div.stage-preview[data-live-url]";
  const ARTICLE_FIELDS = ["body", "from_text", "to_text"];
  const DEBOUNCE_MS = 300;
  // Per preview element: the saved preview's nodes, the pending timer, the request in flight.
  const states = new WeakMap();

  function containerOf(select) {
    return select.closest(".inline-related") || select.closest("form");
  }

  function apply(select) {
    const container = containerOf(select);
    if (!container) {
      return;
    }
    const kind = select.value;
    container.querySelectorAll(FIELDSET).forEach(function (fieldset) {
      const matches = !kind || fieldset.classList.contains(PREFIX + kind);
      const hasErrors = fieldset.querySelector(".errors, .errorlist") !== null;
      fieldset.hidden = !(matches || hasErrors);
    });
  }

  function applyWithin(root) {
    root.querySelectorAll(KIND_SELECT).forEach(apply);
  }

  // --- Live excerpt preview -------------------------------------------------------

  // The form field `name` of the stage whose fields live in `container`: "body" in
  // the stage form, "stages-0-body" in the lesson's inline.
  function fieldIn(container, name) {
    return container.querySelector(
      '[name="' + name + '"], [name$="-' + name + '"]:not([name*="__prefix__"])'
    );
  }

  function stateOf(preview) {
    let state = states.get(preview);
    if (!state) {
      state = {
        saved: Array.from(preview.childNodes, function (node) {
          return node.cloneNode(true);
        }),
        timer: null,
        controller: null,
        live: false,
      };
      states.set(preview, state);
    }
    return state;
  }

  function csrfToken(container) {
    const form = container.closest("form") || document;
    const input = form.querySelector('input[name="csrfmiddlewaretoken"]');
    return input ? input.value : "";
  }

  function show(preview, kind, text) {
    const status = document.createElement("p");
    status.className = "stage-preview-status";
    status.textContent = "Preview of the text as edited (not saved yet):";
    let content;
    if (kind === "error") {
      content = document.createElement("p");
      content.className = `stage-preview-error ${preview.dataset.warningClass || ""}`;
      content.textContent = "⚠ " + text;
    } else {
      content = document.createElement("div");
      content.className = `stage-preview-excerpt ${preview.dataset.boxClass || ""}`;
      content.textContent = text;
    }
    preview.replaceChildren(status, content);
    stateOf(preview).live = true;
  }

  function restoreSaved(preview) {
    const state = stateOf(preview);
    clearTimeout(state.timer);
    if (state.controller) {
      state.controller.abort();
      state.controller = null;
    }
    if (state.live) {
      preview.replaceChildren(
        ...state.saved.map(function (node) {
          return node.cloneNode(true);
        })
      );
      state.live = false;
    }
  }

  async function refresh(container, preview) {
    const state = stateOf(preview);
    if (state.controller) {
      state.controller.abort();
    }
    const controller = new AbortController();
    state.controller = controller;
    const data = new URLSearchParams();
    ARTICLE_FIELDS.forEach(function (name) {
      const field = fieldIn(container, name);
      data.append(name, field ? field.value : "");
    });
    let answer;
    try {
      const response = await fetch(preview.dataset.liveUrl, {
        method: "POST",
        body: data,
        credentials: "same-origin",
        headers: { "X-CSRFToken": csrfToken(container), Accept: "application/json" },
        signal: controller.signal,
      });
      const type = response.headers.get("Content-Type") || "";
      answer = type.startsWith("application/json")
        ? await response.json()
        : { error: "The preview could not be updated (HTTP " + response.status + ")." };
    } catch (error) {
      if (error.name === "AbortError") {
        return; // A newer request replaced this one.
      }
      answer = { error: "The preview could not be updated: " + error.message };
    }
    if (state.controller !== controller) {
      return;
    }
    state.controller = null;
    if (typeof answer.error === "string") {
      show(preview, "error", answer.error);
    } else {
      show(preview, "excerpt", String(answer.excerpt));
    }
  }

  // After any edit of the article fields, or a change of kind, in `container`.
  function schedulePreview(container, delay) {
    const preview = container.querySelector(PREVIEW);
    const kindSelect = container.querySelector(KIND_SELECT);
    if (!preview || !kindSelect) {
      return;
    }
    const state = stateOf(preview);
    if (kindSelect.value !== "article") {
      restoreSaved(preview);
      return;
    }
    clearTimeout(state.timer);
    state.timer = setTimeout(function () {
      refresh(container, preview);
    }, delay);
  }

  function isArticleField(target) {
    if (!(target instanceof HTMLTextAreaElement || target instanceof HTMLInputElement)) {
      return false;
    }
    return ARTICLE_FIELDS.some(function (name) {
      return target.name === name || target.name.endsWith("-" + name);
    });
  }

  document.addEventListener("input", function (event) {
    if (isArticleField(event.target)) {
      const container = containerOf(event.target);
      if (container) {
        schedulePreview(container, DEBOUNCE_MS);
      }
    }
  });

  document.addEventListener("change", function (event) {
    if (event.target instanceof HTMLSelectElement && event.target.matches(KIND_SELECT)) {
      apply(event.target);
      const container = containerOf(event.target);
      if (container) {
        schedulePreview(container, 0);
      }
    }
  });

  // Django dispatches this on the new row when "Add another stage" is clicked.
  document.addEventListener("formset:added", function (event) {
    if (event.target instanceof Element) {
      applyWithin(event.target);
    }
  });

  // A form sent back with errors holds unsaved text: preview that, not the saved stage.
  function previewUnsavedWithin(root) {
    if (!document.querySelector(".errornote")) {
      return;
    }
    root.querySelectorAll(KIND_SELECT).forEach(function (select) {
      const container = containerOf(select);
      if (container && select.value === "article") {
        schedulePreview(container, 0);
      }
    });
  }

  function start() {
    applyWithin(document);
    previewUnsavedWithin(document);
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
