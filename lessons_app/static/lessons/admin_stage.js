// Stage forms in the admin: show only the fieldset of the chosen kind
// (Article, Video or Chat). With no kind chosen yet, every fieldset shows.
// Fieldsets carrying errors are never hidden, so no message goes unseen.
"use strict";
(function () {
  const KIND_SELECT = 'select[name="kind"], select[name$="-kind"]';
  const FIELDSET = "fieldset.stage-kind";
  const PREFIX = "stage-kind-";

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

  document.addEventListener("change", function (event) {
    if (event.target instanceof HTMLSelectElement && event.target.matches(KIND_SELECT)) {
      apply(event.target);
    }
  });

  // Django dispatches this on the new row when "Add another stage" is clicked.
  document.addEventListener("formset:added", function (event) {
    if (event.target instanceof Element) {
      applyWithin(event.target);
    }
  });

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", function () {
      applyWithin(document);
    });
  } else {
    applyWithin(document);
  }
})();
