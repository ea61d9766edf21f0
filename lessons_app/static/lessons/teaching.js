// The learner's checklist on a chat stage: objectives met, questions answered, hints shown.
//
// chat.js hands every checklist it receives (the stage object's `teaching`, in the history
// frame, and each `teaching` frame: docs/protocol.md) to window.tutorTeaching.render. Kept
// apart from chat.js so the two change independently. Text only (textContent), never HTML.
(function () {
  "use strict";

  // Django's JavaScript catalogue (/jsi18n/), loaded before this file.
  const gettext = window.gettext || ((text) => text);
  const interpolate =
    window.interpolate || ((format, values) => format.replace(/%\((\w+)\)s/g, (_, key) => values[key]));

  const MODE_LABELS = {
    open: gettext("Conversation"),
    socratic: gettext("Socratic"),
    hint_ladder: gettext("Hint ladder"),
    quiz: gettext("Quiz"),
  };

  function el(tag, className, text) {
    const node = document.createElement(tag);
    if (className) {
      node.className = className;
    }
    if (text !== undefined) {
      node.textContent = text;
    }
    return node;
  }

  function objectiveItem(objective) {
    const item = el("li", objective.met ? "teaching-item is-met" : "teaching-item");
    item.dataset.objectiveId = String(objective.id);
    item.append(el("span", "teaching-mark", objective.met ? "✓" : "○"));
    item.append(el("span", "teaching-text", objective.text));
    item.append(el("span", "visually-hidden", objective.met ? gettext(" (met)") : gettext(" (not yet)")));
    return item;
  }

  function questionItem(question, number) {
    const verdict = !question.answered
      ? ""
      : question.correct
        ? gettext("right")
        : gettext("not right yet");
    const mark = !question.answered ? "○" : question.correct ? "✓" : "✗";
    const classes = ["teaching-item"];
    if (question.answered) {
      classes.push(question.correct ? "is-met" : "is-wrong");
    }
    const item = el("li", classes.join(" "));
    item.dataset.questionId = String(question.id);
    item.append(el("span", "teaching-mark", mark));
    item.append(el("span", "teaching-text", interpolate(gettext("Question %(number)s"), { number }, true)));
    if (verdict) {
      item.append(el("span", "visually-hidden", ` (${verdict})`));
    }
    if (question.hints && question.hints.length) {
      const hints = el("ol", "teaching-hints");
      question.hints.forEach((hint) => hints.append(el("li", "teaching-hint", hint)));
      item.append(hints);
    }
    return item;
  }

  function render(container, checklist) {
    if (!container) {
      return;
    }
    container.replaceChildren();
    container.hidden = !checklist;
    if (!checklist) {
      return;
    }
    const header = el("p", "teaching-title", MODE_LABELS[checklist.mode] || gettext("Your progress"));
    const score = checklist.score || {};
    if (score.questions) {
      header.append(
        el(
          "span",
          "teaching-score",
          " · " +
            interpolate(
              gettext("%(correct)s of %(questions)s right"),
              { correct: score.correct, questions: score.questions },
              true,
            ),
        ),
      );
    }
    container.append(header);
    if ((checklist.objectives || []).length) {
      const list = el("ul", "teaching-list teaching-objectives");
      list.setAttribute("aria-label", gettext("Learning objectives"));
      checklist.objectives.forEach((objective) => list.append(objectiveItem(objective)));
      container.append(list);
    }
    if ((checklist.questions || []).length) {
      const list = el("ol", "teaching-list teaching-questions");
      list.setAttribute("aria-label", gettext("Questions"));
      checklist.questions.forEach((question, index) =>
        list.append(questionItem(question, index + 1)),
      );
      container.append(list);
    }
  }

  window.tutorTeaching = { render };
})();
