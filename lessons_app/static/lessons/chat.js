/*
 * The tutor chat panel (templates/lessons/_chat_panel.html).
 *
 * Speaks the WebSocket protocol of docs/protocol.md. The server's history frame is
 * the truth: every (re)connect replaces the list with it, so a dropped socket or a
 * reload shows exactly what was saved. A turn belongs to the conversation, not to
 * this page: a reply keeps streaming on the server while the socket is away, the
 * history after a reconnect carries its text so far, and its frames continue from
 * there (numbered, so none is shown twice). Turns started in another tab show here
 * too, and Stop works on them. Model output is markdown rendered by the
 * vendored marked, with raw HTML escaped and images dropped, and then sanitised by
 * the vendored DOMPurify into a DOM fragment: no string of model text ever reaches
 * innerHTML.
 */
(function () {
  "use strict";

  // Learner-facing texts go through Django's JavaScript catalogue (/jsi18n/, loaded before
  // this script; docs/translations.md); without it they stay English.
  const gettext = window.gettext || ((text) => text);
  const interpolate =
    window.interpolate || ((format, values) => format.replace(/%\((\w+)\)s/g, (_, key) => values[key]));

  const panel = document.getElementById("chat-panel");
  if (!panel || !("WebSocket" in window)) {
    return;
  }

  // Frame and field names, as in lessons_app/tutor/protocol.py and llm_app/events.py.
  const CLIENT = {
    MESSAGE: "message",
    STOP: "stop",
    ADVANCE: "advance",
    RETRY: "retry",
    EDIT: "edit",
  };
  // An advance names the stage this page shows, so a repeated one moves nobody twice.
  const ADVANCE_FROM_STAGE = "from_stage";
  const SERVER = {
    HISTORY: "history",
    MESSAGE: "message",
    REPLY: "reply",
    STAGE: "stage",
    DEBUG: "debug",
    TEACHING: "teaching",
    TEXT: "text",
    TOOL_USE: "tool_use",
    USAGE: "usage",
    DONE: "done",
    ERROR: "error",
  };
  const ROLE = { USER: "user", ASSISTANT: "assistant", SYSTEM: "system" };
  const STATUS = {
    COMPLETE: "complete",
    STREAMING: "streaming",
    STOPPED: "stopped",
    ERROR: "error",
    INTERRUPTED: "interrupted",
  };
  const STOPPED_CODE = "stopped";
  const INTERRUPTED_CODE = "interrupted";
  // Every frame of a turn carries these: the reply's id and the frame's number in the turn.
  const TURN_ID = "message_id";
  const TURN_SEQ = "seq";
  // The socket's language parameter (lessons_app/languages.py).
  const LANGUAGE_PARAMETER = "lang";
  const TRANSITION_TOOL = "transition_to_next";
  // Set on a message an edit or a regeneration replaced (docs/protocol.md, "Edit and regenerate").
  const SUPERSEDED_AT = "superseded_at";
  // The list's own items (a superseded group holds items of its own).
  const TOP_TUTOR_ITEMS = ":scope > li[data-role='assistant']";
  const TOP_USER_ITEMS = ":scope > li[data-role='user']";

  // Where a frame or a saved reply brings no error text of its own, these stand in for it.
  const STOPPED_TEXT = gettext("This reply was stopped before it finished.");
  const FAILED_TEXT = gettext("The tutor couldn't finish this reply.");
  const INTERRUPTED_TEXT =
    gettext("The tutor was interrupted before it finished this reply. What arrived is saved.");
  // Statuses of a reply that ended early, which the server can retry.
  const ENDED_EARLY = [STATUS.STOPPED, STATUS.ERROR, STATUS.INTERRUPTED];

  const RECONNECT_FIRST_MS = 500;
  const RECONNECT_MAX_MS = 15000;
  // After this many failed reconnects, check whether the page itself is still ours. Only
  // after a handshake that failed, never before an attempt: after a server restart every
  // learner's page reconnects at once, and a page load each would bury the server.
  const CHECK_PAGE_AFTER_ATTEMPTS = 2;
  // Close codes of a socket that may not chat (docs/protocol.md): final, not retried.
  const CLOSE = { UNAUTHENTICATED: 4401, NOTICE_NOT_ACCEPTED: 4403, NOT_FOUND: 4404 };
  // A worker replaced by a deploy closes its sockets a few at a time with 1012 (service
  // restart) while the new workers already serve: come back at once, within this.
  const SERVICE_RESTART = 1012;
  const SERVICE_RESTART_JITTER_MS = 100;
  const NOTICE_MS = 6000;
  // Show the character counter from this share of the limit.
  const COUNTER_FROM = 0.8;
  const DEFAULT_MAX_CHARS = 4000;
  const MAX_COMMENT_CHARS = 2000;
  // "Near the bottom" for keeping the list scrolled to the newest message.
  const STICKY_SCROLL_PX = 80;

  const $ = (selector) => panel.querySelector(selector);
  const ui = {
    status: $("[data-chat-status]"),
    demoNote: $("[data-chat-demo-note]"),
    list: $("[data-chat-messages]"),
    notice: $("[data-chat-notice]"),
    announce: $("[data-chat-announce]"),
    transition: $("[data-chat-transition]"),
    continueButton: $("[data-chat-continue]"),
    advanceButton: $("[data-chat-advance]"),
    form: $("[data-chat-form]"),
    input: panel.querySelector("textarea"),
    counter: $("[data-chat-counter]"),
    stopButton: $("[data-chat-stop]"),
    sendButton: $("[data-chat-send]"),
  };

  const state = {
    socket: null,
    connected: false,
    attempts: 0,
    reconnectTimer: 0,
    leaving: false,
    // A turn is in flight: from sending a message (or retry) until its done/error.
    busy: false,
    // The turn whose frames this page is showing: {id, seq} of its newest frame.
    turn: null,
    // A turn's frames have begun here and its done/error has not come yet.
    turnOpen: false,
    stopping: false,
    // The tutor bubble being streamed: {li, text, frame (a pending animation frame)}.
    reply: null,
    // The typing indicator shown between sending and the reply frame.
    pending: null,
    pendingText: "",
    reclaimedText: "",
    pendingDebug: null,
    transitionOffered: false,
    maxChars: DEFAULT_MAX_CHARS,
    noticeTimer: 0,
    // The id of the learner message being edited in the box, if any.
    editing: null,
  };

  // --- Safe markdown ----------------------------------------------------------

  function escapeHtml(text) {
    return String(text)
      .replace(/&/g, "&amp;")
      .replace(/</g, "&lt;")
      .replace(/>/g, "&gt;")
      .replace(/"/g, "&quot;")
      .replace(/'/g, "&#39;");
  }

  const PURIFY_CONFIG = {
    ALLOWED_TAGS: [
      "p", "br", "strong", "em", "del", "s", "code", "pre", "blockquote", "ul", "ol", "li",
      "a", "h3", "h4", "h5", "h6", "hr", "table", "thead", "tbody", "tr", "th", "td", "span",
    ],
    // "class" only as lessons/rich_text.js allows it: math markers and code languages.
    ALLOWED_ATTR: ["href", "title", "start", "align", "class"],
    ALLOW_DATA_ATTR: false,
    RETURN_DOM_FRAGMENT: true,
  };

  const rich = window.TutorRichText || null;

  const renderer = (function () {
    const marked = window.marked;
    const purify = window.DOMPurify;
    if (!marked || !marked.Marked || !purify || !purify.isSupported) {
      return null;
    }
    purify.addHook("uponSanitizeAttribute", (node, data) => {
      if (data.attrName === "class" && !(rich && rich.allowedClass(node.tagName, data.attrValue))) {
        data.keepAttr = false;
      }
    });
    purify.addHook("afterSanitizeAttributes", (node) => {
      if (node.tagName === "A" && node.hasAttribute("href")) {
        node.setAttribute("target", "_blank");
        node.setAttribute("rel", "noopener noreferrer");
      }
    });
    const md = new marked.Marked({
      gfm: true,
      breaks: true,
      async: false,
      renderer: {
        // Raw HTML in model output is shown as the text it is, never parsed.
        html(token) {
          return token.block ? `<p>${escapeHtml(token.text)}</p>` : escapeHtml(token.text);
        },
        // Images would fetch a URL the model chose (a privacy leak): keep only the alt text.
        image(token) {
          return escapeHtml(token.text || "");
        },
        // Headings nest under the panel's <h2>.
        heading(token) {
          const level = Math.min(6, token.depth + 2);
          return `<h${level}>${this.parser.parseInline(token.tokens)}</h${level}>\n`;
        },
      },
      // Math is cut out before markdown escapes can eat its backslashes.
      extensions: rich ? [rich.markedMath] : [],
    });
    return (text) => purify.sanitize(md.parse(text || ""), PURIFY_CONFIG);
  })();

  function renderMarkdown(element, text) {
    if (renderer) {
      const fragment = renderer(text);
      if (rich) {
        rich.enhance(fragment); // math typeset, code highlighted, after sanitising
      }
      element.replaceChildren(fragment);
    } else {
      // The libraries failed to load: plain text is still safe and readable.
      element.textContent = text || "";
    }
  }

  // --- Small DOM helpers ------------------------------------------------------

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

  function button(label, className, onClick) {
    const node = el("button", className, label);
    node.type = "button";
    node.addEventListener("click", onClick);
    return node;
  }

  function thumbIcon(down) {
    const ns = "http://www.w3.org/2000/svg";
    const svg = document.createElementNS(ns, "svg");
    svg.setAttribute("viewBox", "0 0 24 24");
    svg.setAttribute("width", "18");
    svg.setAttribute("height", "18");
    svg.setAttribute("aria-hidden", "true");
    svg.setAttribute("focusable", "false");
    const path = document.createElementNS(ns, "path");
    path.setAttribute(
      "d",
      "M3 10h4v11H3zM7 10l4-8c1.6 0 3 1.3 3 3v4h5.4a2 2 0 0 1 2 2.3l-1.3 7.9A2 2 0 0 1 18.1 21H7"
    );
    path.setAttribute("fill", "none");
    path.setAttribute("stroke", "currentColor");
    path.setAttribute("stroke-width", "2");
    path.setAttribute("stroke-linejoin", "round");
    if (down) {
      path.setAttribute("transform", "rotate(180 12 12)");
    }
    svg.appendChild(path);
    return svg;
  }

  function typingDots() {
    const dots = el("span", "chat-typing");
    dots.setAttribute("role", "img");
    dots.setAttribute("aria-label", gettext("The tutor is typing"));
    for (let i = 0; i < 3; i += 1) {
      dots.appendChild(el("span"));
    }
    return dots;
  }

  function nearBottom() {
    const list = ui.list;
    return list.scrollHeight - list.scrollTop - list.clientHeight < STICKY_SCROLL_PX;
  }

  function scrollToEnd() {
    ui.list.scrollTop = ui.list.scrollHeight;
  }

  // Runs a change to the list, keeping it pinned to the newest message if it was.
  function keepingScroll(change) {
    const stick = nearBottom();
    const result = change();
    if (stick) {
      scrollToEnd();
    }
    return result;
  }

  // --- Messages ---------------------------------------------------------------

  function markerItem(message) {
    const li = el("li", "chat-marker", message.content);
    li.dataset.role = ROLE.SYSTEM;
    return li;
  }

  // A user or tutor list item, with the words a screen reader says before it.
  function messageItem(message, role, spokenPrefix) {
    const li = el("li", `chat-message chat-message-${role}`);
    li.dataset.role = role;
    if (message.id != null) {
      li.dataset.messageId = message.id;
    }
    li.appendChild(el("span", "visually-hidden", spokenPrefix));
    li._message = message;
    return li;
  }

  // <time datetime="…">14:05</time>, the full date and time on hover.
  function timeOf(message) {
    const when = message.created_at ? new Date(message.created_at) : null;
    if (!when || Number.isNaN(when.getTime())) {
      return null;
    }
    const node = el("time", "chat-time", when.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" }));
    node.dateTime = message.created_at;
    node.title = when.toLocaleString();
    return node;
  }

  // A message's own controls: Copy (its source text), and Edit or Regenerate where they apply.
  function messageActions(li) {
    const bar = el("div", "chat-actions");
    const copy = window.TutorRichText
      ? window.TutorRichText.copyButton(gettext("Copy"), gettext("Copy this message"), () => li._message.content || "")
      : null;
    if (copy) {
      copy.classList.add("chat-copy");
      bar.appendChild(copy);
    }
    return bar;
  }

  function userItem(message) {
    const li = messageItem(message, ROLE.USER, gettext("You said:"));
    // Learner text is text: textContent escapes it, CSS keeps its line breaks.
    li.appendChild(el("div", "chat-bubble", message.content));
    const meta = el("div", "chat-meta");
    const time = timeOf(message);
    if (time) {
      meta.appendChild(time);
    }
    meta.appendChild(messageActions(li));
    li.appendChild(meta);
    return li;
  }

  function providerLabel(message) {
    if (!("provider" in message)) {
      return ""; // Only staff receive provider details.
    }
    return [message.provider, message.model].filter(Boolean).join(" · ");
  }

  function tutorItem(message) {
    const li = messageItem(message, ROLE.ASSISTANT, gettext("Tutor said:"));
    const bubble = el("div", "chat-bubble");
    const body = el("div", "prose chat-body");
    bubble.appendChild(body);
    li.appendChild(bubble);
    const meta = el("div", "chat-meta");
    if (message.is_demo) {
      const badge = el("span", "chat-badge chat-badge-demo", gettext("Demo tutor"));
      badge.title = gettext("The offline demo tutor: scripted replies, not a real model.");
      meta.appendChild(badge);
    }
    const provider = el("span", "chat-provider", providerLabel(message));
    provider.hidden = !provider.textContent;
    meta.appendChild(provider);
    meta.appendChild(el("span", "chat-state"));
    const time = timeOf(message);
    if (time) {
      meta.appendChild(time);
    }
    li._actions = messageActions(li);
    meta.appendChild(li._actions);
    li.appendChild(meta);
    li._body = body;
    li._provider = provider;
    setTutorStatus(li, message.status, message.error_message || null);
    paintBody(li, message.content);
    return li;
  }

  function paintBody(li, text) {
    renderMarkdown(li._body, text);
    // A reply that failed or was stopped before its first word has no bubble, only its reason.
    li._body.parentElement.hidden = !text;
  }

  const STATUS_LABELS = {
    [STATUS.STOPPED]: gettext("Stopped"),
    [STATUS.ERROR]: gettext("Not finished"),
    [STATUS.INTERRUPTED]: gettext("Interrupted"),
  };
  const ENDED_EARLY_TEXT = {
    [STATUS.STOPPED]: STOPPED_TEXT,
    [STATUS.ERROR]: FAILED_TEXT,
    [STATUS.INTERRUPTED]: INTERRUPTED_TEXT,
  };

  // Status classes, the stopped/failed line and the rating controls of a tutor bubble.
  function setTutorStatus(li, status, errorText) {
    li.dataset.status = status;
    const label = li.querySelector(".chat-state");
    label.textContent = STATUS_LABELS[status] || "";
    label.hidden = !label.textContent;
    const old = li.querySelector(".chat-error");
    if (old) {
      old.remove();
    }
    if (ENDED_EARLY.includes(status)) {
      const line = el("p", "chat-error", errorText || ENDED_EARLY_TEXT[status]);
      li.querySelector(".chat-bubble").after(line);
    }
    // Nothing to copy while it is still being written, nor when it ended before a word.
    li._actions.hidden = status === STATUS.STREAMING;
    const copy = li._actions.querySelector(".chat-copy");
    if (copy) {
      copy.hidden = !(li._message.content || "").trim();
    }
    if (
      status === STATUS.COMPLETE &&
      li._message.id != null &&
      !li._message[SUPERSEDED_AT] &&
      !li.querySelector(".chat-rating")
    ) {
      li.appendChild(ratingControls(li._message));
    }
  }

  function itemFor(message) {
    if (message.role === ROLE.SYSTEM) {
      return markerItem(message);
    }
    if (message.role === ROLE.USER) {
      return userItem(message);
    }
    return tutorItem(message);
  }

  function lastItem(selector) {
    const items = ui.list.querySelectorAll(selector);
    return items.length ? items[items.length - 1] : null;
  }

  function lastTutorItem() {
    return lastItem(TOP_TUTOR_ITEMS);
  }

  // The reply just before `li` answers a learner message: it can be written again.
  function answersTheLearner(li) {
    let before = li.previousElementSibling;
    while (before && before.classList.contains("chat-superseded")) {
      before = before.previousElementSibling;
    }
    return Boolean(before && before.dataset.role === ROLE.USER);
  }

  // Retry (a reply that ended early) or Regenerate (a finished one that answers the
  // learner) on the last reply; Edit on the learner's last message of this stage.
  function refreshRetry() {
    ui.list.querySelectorAll(".chat-retry, .chat-regenerate, .chat-edit").forEach((node) => node.remove());
    if (state.busy) {
      return;
    }
    const last = lastTutorItem();
    if (last && ENDED_EARLY.includes(last.dataset.status)) {
      const retry = button(gettext("Retry"), "button button-secondary button-small chat-retry", onRetry);
      retry.setAttribute("aria-label", gettext("Retry this reply"));
      last.appendChild(retry);
    } else if (last && last.dataset.status === STATUS.COMPLETE && answersTheLearner(last)) {
      const again = button(gettext("Regenerate"), "copy-button chat-regenerate", onRetry);
      again.setAttribute("aria-label", gettext("Regenerate: write this reply again"));
      last._actions.appendChild(again);
    }
    const mine = lastItem(TOP_USER_ITEMS);
    if (mine && String(mine._message.stage_id) === String(panel.dataset.stageId)) {
      const edit = button(gettext("Edit"), "copy-button chat-edit", () => startEditing(mine));
      edit.setAttribute("aria-label", gettext("Edit your last message and send it again"));
      mine.querySelector(".chat-actions").appendChild(edit);
    }
  }

  function refreshDemoNote() {
    // The latest reply says who answered; before any reply, the page says who will.
    const last = lastTutorItem();
    const message = last && last._message;
    const isDemo = message ? message.is_demo : ui.demoNote.dataset.demoTutor === "true";
    ui.demoNote.hidden = !isDemo;
  }

  // Superseded messages (an edit, a regeneration) are kept, collapsed: one "Earlier
  // version" disclosure for each run of them, in its place.
  function historyItems(messages) {
    const fragment = document.createDocumentFragment();
    let group = null;
    messages.forEach((message) => {
      if (!message[SUPERSEDED_AT] || message.role === ROLE.SYSTEM) {
        group = null;
        fragment.appendChild(itemFor(message));
        return;
      }
      if (!group) {
        const li = el("li", "chat-superseded");
        const details = el("details");
        details.appendChild(el("summary", "", gettext("Earlier version (replaced)")));
        group = el("ol", "chat-superseded-messages");
        details.appendChild(group);
        li.appendChild(details);
        fragment.appendChild(li);
      }
      group.appendChild(itemFor(message));
    });
    return fragment;
  }

  // `turn` names the reply still being written, if any: its text so far is in
  // `messages`, and its frames after `turn.seq` follow on the socket.
  function replaceHistory(messages, turn) {
    cancelReplyRender();
    hidePending();
    state.reply = null;
    state.turn = null;
    state.pendingDebug = null;
    ui.list.replaceChildren(historyItems(messages));
    const mine = lastItem(TOP_USER_ITEMS);
    if (state.editing !== null && !(mine && mine._message.id === state.editing)) {
      stopEditing(); // what was being edited is no longer the last message
    }
    state.turnOpen = false;
    if (turn) {
      const li = ui.list.querySelector(`li[data-message-id="${Number(turn[TURN_ID])}"]`);
      if (li && li._body) {
        state.turnOpen = true;
        state.turn = { id: turn[TURN_ID], seq: turn[TURN_SEQ] };
        state.reply = { li, text: li._message.content || "", frame: 0 };
        // The model already asked to move on, before the frames this page will see.
        state.transitionOffered = (turn.tools || []).includes(TRANSITION_TOOL);
        li._body.parentElement.hidden = false;
        if (!state.reply.text) {
          li._body.appendChild(typingDots());
        }
      }
    }
    refreshRetry();
    refreshDemoNote();
    scrollToEnd();
  }

  // Frames of a turn come numbered: one this page has shown already (replayed after a
  // reconnect) is skipped, so nothing appears twice.
  function isNewTurnFrame(frame) {
    if (!(TURN_ID in frame) || !(TURN_SEQ in frame)) {
      return true;
    }
    const turn = state.turn;
    if (turn && turn.id === frame[TURN_ID] && frame[TURN_SEQ] <= turn.seq) {
      return false;
    }
    state.turn = { id: frame[TURN_ID], seq: frame[TURN_SEQ] };
    return true;
  }

  function appendMessage(message) {
    keepingScroll(() => {
      ui.list.appendChild(itemFor(message));
      if (state.pending) {
        ui.list.appendChild(state.pending); // the typing indicator stays last
      }
    });
    refreshRetry();
    refreshDemoNote();
  }

  // --- Ratings ----------------------------------------------------------------

  function ratingUrl(id) {
    return panel.dataset.ratingUrl.replace(/\/0\/rating\/$/, `/${encodeURIComponent(id)}/rating/`);
  }

  function csrfToken() {
    const match = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
    return match ? decodeURIComponent(match[1]) : panel.dataset.csrfToken || "";
  }

  async function sendRating(id, method, body) {
    const response = await fetch(ratingUrl(id), {
      method,
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRFToken": csrfToken() },
      body: body ? JSON.stringify(body) : undefined,
    });
    let data = null;
    try {
      data = await response.json();
    } catch (error) {
      data = null;
    }
    if (!response.ok) {
      const reason =
        data && typeof data.error === "string"
          ? data.error
          : response.status === 404
            ? gettext("This reply can't be rated.")
            : interpolate(gettext("The server answered %(status)s."), { status: response.status }, true);
      throw new Error(reason);
    }
    return data || {};
  }

  let ratingIds = 0;

  function ratingControls(message) {
    ratingIds += 1;
    const wrap = el("div", "chat-rating");
    const group = el("div", "chat-rating-buttons");
    group.setAttribute("role", "group");
    group.setAttribute("aria-label", gettext("Rate this reply"));
    const up = button("", "chat-rate chat-rate-up", () => choose(1));
    up.appendChild(thumbIcon(false));
    up.appendChild(el("span", "visually-hidden", gettext("Helpful")));
    up.title = gettext("Helpful");
    const down = button("", "chat-rate chat-rate-down", () => choose(-1));
    down.appendChild(thumbIcon(true));
    down.appendChild(el("span", "visually-hidden", gettext("Not helpful")));
    down.title = gettext("Not helpful");
    const feedback = el("span", "chat-rating-status");
    feedback.setAttribute("role", "status");
    group.append(up, down, feedback);

    const form = el("form", "chat-rating-comment");
    const inputId = `chat-rating-comment-${ratingIds}`;
    const label = el("label", "visually-hidden", gettext("Comment on this reply (optional)"));
    label.htmlFor = inputId;
    const input = el("input");
    input.type = "text";
    input.id = inputId;
    input.maxLength = MAX_COMMENT_CHARS;
    input.placeholder = gettext("Add a comment (optional)");
    const save = el("button", "button button-secondary button-small", gettext("Save"));
    save.type = "submit";
    form.append(label, input, save);
    wrap.append(group, form);

    let current = message.rating ? message.rating.value : null;
    input.value = message.rating ? message.rating.comment || "" : "";

    function show() {
      up.setAttribute("aria-pressed", String(current === 1));
      down.setAttribute("aria-pressed", String(current === -1));
      form.hidden = current === null;
    }

    async function submit(value, comment, method) {
      up.disabled = down.disabled = save.disabled = true;
      try {
        const data = await sendRating(
          message.id,
          method,
          method === "DELETE" ? null : { value, comment }
        );
        current = data.value === undefined ? value : data.value;
        message.rating = current === null ? null : { value: current, comment: data.comment || "" };
        feedback.textContent =
          current === null ? gettext("Rating removed.") : comment ? gettext("Thanks for the feedback.") : gettext("Thanks!");
      } catch (error) {
        feedback.textContent = interpolate(
          gettext("Couldn't save your rating: %(error)s"),
          { error: error.message },
          true
        );
      } finally {
        up.disabled = down.disabled = save.disabled = false;
        show();
      }
    }

    function choose(value) {
      if (current === value) {
        submit(null, "", "DELETE"); // pressing the chosen thumb again takes it back
      } else {
        submit(value, input.value.trim(), "POST");
      }
    }

    form.addEventListener("submit", (event) => {
      event.preventDefault();
      if (current !== null) {
        submit(current, input.value.trim(), "POST");
      }
    });
    show();
    return wrap;
  }

  // --- Turns ------------------------------------------------------------------

  function showPending() {
    if (state.pending) {
      return;
    }
    const li = el("li", "chat-message chat-message-assistant chat-pending");
    const bubble = el("div", "chat-bubble");
    bubble.appendChild(typingDots());
    li.appendChild(bubble);
    state.pending = li;
    keepingScroll(() => ui.list.appendChild(li));
  }

  function hidePending() {
    if (state.pending) {
      state.pending.remove();
      state.pending = null;
    }
  }

  function setBusy(busy) {
    state.busy = busy;
    if (!busy) {
      state.stopping = false;
    }
    ui.list.setAttribute("aria-busy", String(busy));
    refreshRetry();
    syncControls();
  }

  function beginReply(message) {
    hidePending();
    state.transitionOffered = false;
    hideTransition();
    const li = tutorItem(message);
    li._body.parentElement.hidden = false;
    li._body.appendChild(typingDots());
    state.reply = { li, text: "", frame: 0 };
    setBusy(true);
    keepingScroll(() => ui.list.appendChild(li));
    if (state.pendingDebug) {
      attachDebug(state.pendingDebug);
      state.pendingDebug = null;
    }
    refreshDemoNote();
  }

  function paintReply() {
    const reply = state.reply;
    if (!reply) {
      return;
    }
    reply.frame = 0;
    keepingScroll(() => paintBody(reply.li, reply.text));
  }

  // Chunks arrive faster than the screen refreshes: render at most once a frame.
  function scheduleReplyRender() {
    if (state.reply && !state.reply.frame) {
      state.reply.frame = window.requestAnimationFrame(paintReply);
    }
  }

  function cancelReplyRender() {
    if (state.reply && state.reply.frame) {
      window.cancelAnimationFrame(state.reply.frame);
      state.reply.frame = 0;
    }
  }

  function appendText(content) {
    if (!state.reply || typeof content !== "string") {
      return;
    }
    state.reply.text += content;
    scheduleReplyRender();
  }

  function attachDebug(frame) {
    const details = el("details", "chat-debug");
    details.appendChild(el("summary", "", gettext("Prompt sent to the model")));
    const lines = [`SYSTEM\n${frame.system || ""}`];
    (frame.messages || []).forEach((message) => {
      lines.push(`${String(message.role || "").toUpperCase()}\n${message.content || ""}`);
    });
    details.appendChild(el("pre", "", lines.join("\n\n")));
    state.reply.li.insertBefore(details, state.reply.li.querySelector(".chat-bubble"));
  }

  // Ends the turn in flight: final render, status, Retry or rating, transition prompt.
  function finishReply(status, errorText) {
    const reply = state.reply;
    state.reply = null;
    hidePending();
    if (reply) {
      if (reply.frame) {
        window.cancelAnimationFrame(reply.frame);
      }
      reply.li._message.status = status;
      reply.li._message.content = reply.text;
      keepingScroll(() => {
        paintBody(reply.li, reply.text);
        setTutorStatus(reply.li, status, errorText);
      });
    } else if (errorText) {
      // A turn that failed before its reply started still says why.
      keepingScroll(() => ui.list.appendChild(el("li", "chat-error chat-error-standalone", errorText)));
    }
    setBusy(false);
    refreshDemoNote();
    if (status === STATUS.COMPLETE && state.transitionOffered) {
      showTransition();
    } else if (status === STATUS.COMPLETE) {
      // Once, at the end: the streamed text itself is in no live region.
      announce(gettext("The tutor has replied."));
    } else {
      announce(errorText || FAILED_TEXT);
    }
    state.transitionOffered = false;
  }

  // --- Frames -----------------------------------------------------------------

  const handlers = {
    [SERVER.HISTORY](frame) {
      state.attempts = 0;
      if (Number.isInteger(frame.max_message_chars) && frame.max_message_chars > 0) {
        state.maxChars = frame.max_message_chars;
      }
      // A reply still being written (here or in another tab) comes back with its text so far.
      state.busy = false;
      replaceHistory(frame.messages || [], frame.turn);
      showTeaching(frame.stage && frame.stage.teaching);
      setBusy(Boolean(state.reply));
      forgetDeliveredText(frame.messages || []);
      updateCounter();
      setStatus("");
    },
    [SERVER.MESSAGE](frame) {
      if (frame.message.role === ROLE.USER) {
        // Another tab's message is not this page's: keep what this page sent in case it
        // is refused (both tabs sent at once).
        if (state.pendingText.trim() === frame.message.content) {
          state.pendingText = "";
        }
        if (TURN_ID in frame) {
          state.turnOpen = true;
          setBusy(true); // a turn started, perhaps from another tab: wait for its reply
        }
      }
      appendMessage(frame.message);
    },
    [SERVER.REPLY](frame) {
      state.turnOpen = true;
      beginReply(frame.message);
    },
    [SERVER.DEBUG](frame) {
      if (state.reply) {
        attachDebug(frame);
      } else {
        state.pendingDebug = frame;
      }
    },
    [SERVER.TEXT](frame) {
      appendText(frame.content);
    },
    [SERVER.TEACHING](frame) {
      showTeaching(frame.teaching);
    },
    [SERVER.TOOL_USE](frame) {
      if (frame.name === TRANSITION_TOOL) {
        state.transitionOffered = true;
      }
    },
    [SERVER.USAGE](frame) {
      // The provider that answered (a fallback may have); shown to staff only.
      const reply = state.reply;
      if (reply && "provider" in reply.li._message) {
        reply.li._message.provider = frame.provider || reply.li._message.provider;
        reply.li._message.model = frame.model || reply.li._message.model;
        reply.li._provider.textContent = providerLabel(reply.li._message);
        reply.li._provider.hidden = !reply.li._provider.textContent;
      }
    },
    [SERVER.DONE]() {
      state.turnOpen = false;
      finishReply(STATUS.COMPLETE, null);
    },
    [SERVER.ERROR](frame) {
      if ("rejected" in frame) {
        onRefusal(frame);
        return;
      }
      state.turnOpen = false;
      const status =
        frame.code === STOPPED_CODE
          ? STATUS.STOPPED
          : frame.code === INTERRUPTED_CODE
            ? STATUS.INTERRUPTED
            : STATUS.ERROR;
      finishReply(status, frame.message || ENDED_EARLY_TEXT[status]);
    },
    [SERVER.STAGE]() {
      // The frame only says where the learner is now: the page shows that stage (it is
      // server-rendered), and the reloaded page's socket brings the chat history.
      state.leaving = true;
      setStatus(gettext("Opening the next stage…"));
      window.location.reload();
    },
  };

  // A refused frame never ends a turn in flight; it only undoes what sending it started.
  function onRefusal(frame) {
    showNotice(frame.message || gettext("The tutor couldn't take that."));
    const sentText = frame.rejected === CLIENT.MESSAGE || frame.rejected === CLIENT.EDIT;
    if (sentText || frame.rejected === CLIENT.RETRY) {
      if (!state.reply && state.pending) {
        hidePending();
        // Still busy if another tab's turn has started here (its echo came first).
        setBusy(state.turnOpen);
      }
      if (sentText && state.pendingText && !ui.input.value.trim()) {
        ui.input.value = state.pendingText;
        updateCounter();
      }
      state.pendingText = "";
    } else if (frame.rejected === CLIENT.ADVANCE) {
      ui.advanceButton.disabled = false;
      ui.continueButton.disabled = false;
    } else if (frame.rejected === CLIENT.STOP) {
      state.stopping = false;
      syncControls();
    }
  }

  // --- Teaching checklist (issue 17; rendered by lessons/teaching.js) ----------

  function showTeaching(checklist) {
    if (window.tutorTeaching) {
      window.tutorTeaching.render(panel.querySelector("[data-chat-teaching]"), checklist || null);
    }
  }

  // --- Controls ---------------------------------------------------------------

  function messageLength() {
    return Array.from(ui.input.value.trim()).length;
  }

  function updateCounter() {
    const length = messageLength();
    const max = state.maxChars;
    const over = length > max;
    ui.counter.hidden = length < max * COUNTER_FROM;
    ui.counter.textContent = over
      ? interpolate(
          gettext("%(length)s / %(max)s: %(over)s too many"),
          {
            length: length.toLocaleString(),
            max: max.toLocaleString(),
            over: (length - max).toLocaleString(),
          },
          true
        )
      : `${length.toLocaleString()} / ${max.toLocaleString()}`;
    ui.counter.classList.toggle("is-over", over);
    syncControls();
  }

  function syncControls() {
    ui.sendButton.disabled = !state.connected || state.busy || messageLength() > state.maxChars;
    // Stop appears once the reply has started: before that there is nothing to stop yet.
    ui.stopButton.hidden = !state.reply;
    ui.stopButton.disabled = !state.connected || state.stopping;
  }

  function setStatus(text) {
    ui.status.textContent = text;
    ui.status.hidden = !text;
  }

  function showNotice(text) {
    window.clearTimeout(state.noticeTimer);
    ui.notice.textContent = text;
    ui.notice.hidden = false;
    state.noticeTimer = window.setTimeout(hideNotice, NOTICE_MS);
  }

  function hideNotice() {
    window.clearTimeout(state.noticeTimer);
    ui.notice.hidden = true;
    ui.notice.textContent = "";
  }

  function showTransition() {
    ui.advanceButton.disabled = false;
    ui.continueButton.disabled = false;
    keepingScroll(() => {
      ui.transition.hidden = false;
    });
    announce(gettext("The tutor thinks you're ready to move on: Next stage, or Continue chatting."));
  }

  // For screen readers: things that change away from the focused control.
  function announce(text) {
    if (ui.announce) {
      ui.announce.textContent = "";
      ui.announce.textContent = text;
    }
  }

  function hideTransition() {
    ui.transition.hidden = true;
  }

  function send(frame) {
    if (!state.socket || state.socket.readyState !== WebSocket.OPEN) {
      showNotice(gettext("Not connected to the tutor yet. Trying again…"));
      return false;
    }
    state.socket.send(JSON.stringify(frame));
    return true;
  }

  function onSubmit(event) {
    event.preventDefault();
    const content = ui.input.value.trim();
    if (!content) {
      ui.input.focus();
      return;
    }
    if (ui.sendButton.disabled) {
      return;
    }
    const frame = state.editing ? { type: CLIENT.EDIT, content } : { type: CLIENT.MESSAGE, content };
    if (send(frame)) {
      stopEditing();
      hideNotice(); // about an earlier frame
      state.pendingText = ui.input.value;
      ui.input.value = "";
      updateCounter();
      hideTransition();
      setBusy(true);
      showPending();
      ui.input.focus();
    }
  }

  // Edit: the message goes back into the box; sending it replaces the original.
  const editNote = (function () {
    const note = el("p", "chat-editing");
    note.hidden = true;
    note.appendChild(el("span", "", gettext("Editing your last message: sending replaces it and its reply. ")));
    note.appendChild(button(gettext("Cancel"), "copy-button", () => {
      stopEditing();
      ui.input.value = "";
      updateCounter();
    }));
    ui.form.insertBefore(note, ui.form.firstChild);
    return note;
  })();

  function startEditing(li) {
    state.editing = li._message.id;
    ui.input.value = li._message.content || "";
    editNote.hidden = false;
    updateCounter();
    ui.input.focus();
  }

  function stopEditing() {
    state.editing = null;
    editNote.hidden = true;
  }

  function onRetry() {
    if (state.busy) {
      return;
    }
    if (send({ type: CLIENT.RETRY })) {
      setBusy(true);
      showPending();
      ui.input.focus();
    }
  }

  function onStop() {
    if (state.busy && send({ type: CLIENT.STOP })) {
      state.stopping = true;
      syncControls();
      ui.input.focus();
    }
  }

  ui.form.addEventListener("submit", onSubmit);
  ui.input.addEventListener("input", updateCounter);
  ui.input.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing && !event.altKey) {
      event.preventDefault();
      if (state.busy) {
        showNotice(gettext("The tutor is still answering. Wait for the reply or press Stop."));
      } else {
        ui.form.requestSubmit();
      }
    }
  });
  ui.stopButton.addEventListener("click", onStop);
  ui.continueButton.addEventListener("click", () => {
    hideTransition();
    ui.input.focus();
  });
  ui.advanceButton.addEventListener("click", () => {
    if (send({ type: CLIENT.ADVANCE, [ADVANCE_FROM_STAGE]: Number(panel.dataset.stageId) })) {
      ui.advanceButton.disabled = true;
      ui.continueButton.disabled = true;
    }
  });

  // --- Connection -------------------------------------------------------------

  // While a reply is on screen unfinished, the URL says how far this page has it, so
  // the server sends on from there (docs/protocol.md, "Resuming a turn").
  function socketUrl() {
    const scheme = window.location.protocol === "https:" ? "wss://" : "ws://";
    let url = scheme + window.location.host + panel.dataset.wsUrl;
    // The page's language: the server's texts and the tutor's replies follow it.
    url += `?${LANGUAGE_PARAMETER}=${encodeURIComponent(document.documentElement.lang || "")}`;
    if (state.reply && state.turn) {
      const id = encodeURIComponent(state.turn.id);
      url += `&${TURN_ID}=${id}&${TURN_SEQ}=${encodeURIComponent(state.turn.seq)}`;
    }
    return url;
  }

  function connect() {
    window.clearTimeout(state.reconnectTimer);
    state.reconnectTimer = 0;
    const current = state.socket;
    if (current && (current.readyState === WebSocket.CONNECTING || current.readyState === WebSocket.OPEN)) {
      return; // one socket at a time, however many reasons to reconnect arrive together
    }
    if (state.attempts === 0) {
      setStatus(gettext("Connecting…"));
    }
    let socket;
    try {
      socket = new WebSocket(socketUrl());
    } catch (error) {
      scheduleReconnect();
      return;
    }
    state.socket = socket;
    let opened = false;
    socket.addEventListener("open", () => {
      opened = true;
      state.connected = true;
      ui.input.disabled = false;
      syncControls();
    });
    socket.addEventListener("message", (event) => {
      if (state.socket !== socket) {
        return; // a socket this page has already given up on
      }
      let frame;
      try {
        frame = JSON.parse(event.data);
      } catch (error) {
        return;
      }
      const handler = frame && handlers[frame.type];
      if (handler && isNewTurnFrame(frame)) {
        handler(frame);
      }
    });
    socket.addEventListener("close", (event) => {
      if (state.socket !== socket) {
        return;
      }
      if (refusedFor(event.code)) {
        state.socket = null;
        state.connected = false;
        syncControls();
        return;
      }
      state.socket = null;
      state.connected = false;
      // A reply in progress goes on on the server; the next history brings it back here.
      hidePending();
      if (state.pendingText && !ui.input.value.trim()) {
        // Sent but never confirmed: give it back rather than lose it. If it did arrive,
        // the next history shows it, and the box is emptied again.
        ui.input.value = state.pendingText;
        state.reclaimedText = state.pendingText;
        updateCounter();
      }
      state.pendingText = "";
      syncControls();
      if (state.leaving) {
        return;
      }
      if (event.code === SERVICE_RESTART) {
        reconnectSoon();
      } else if (!opened && state.attempts >= CHECK_PAGE_AFTER_ATTEMPTS) {
        checkPageThenReconnect();
      } else {
        scheduleReconnect();
      }
    });
  }

  // A message given back to the box after a dropped connection, that reached the server
  // after all: empty the box again, or it would be sent twice.
  function forgetDeliveredText(messages) {
    const text = state.reclaimedText;
    state.reclaimedText = "";
    if (!text || ui.input.value !== text) {
      return;
    }
    const users = messages.filter((message) => message.role === ROLE.USER);
    if (users.length && users[users.length - 1].content === text.trim()) {
      ui.input.value = "";
    }
  }

  function scheduleReconnect() {
    const base = Math.min(RECONNECT_MAX_MS, RECONNECT_FIRST_MS * 2 ** state.attempts);
    const delay = base / 2 + Math.random() * (base / 2);
    state.attempts += 1;
    setStatus(gettext("Reconnecting…"));
    window.clearTimeout(state.reconnectTimer);
    state.reconnectTimer = window.setTimeout(connect, delay);
  }

  function reconnectSoon() {
    setStatus(gettext("Reconnecting…"));
    window.clearTimeout(state.reconnectTimer);
    state.reconnectTimer = window.setTimeout(connect, Math.random() * SERVICE_RESTART_JITTER_MS);
  }

  // The server answers every handshake, then closes with a code if the socket may not
  // chat: say why, once, instead of reconnecting.
  function refusedFor(code) {
    if (code === CLOSE.UNAUTHENTICATED) {
      stopReconnecting("You've been logged out.", "Log in again", panel.dataset.loginUrl);
    } else if (code === CLOSE.NOT_FOUND) {
      stopReconnecting("This lesson is no longer available.", "See all lessons", "/");
    } else if (code === CLOSE.NOTICE_NOT_ACCEPTED) {
      state.leaving = true;
      window.location.reload(); // the page shows the notice in place of the chat
    } else {
      return false;
    }
    return true;
  }

  // A handshake refused on the way (a proxy, an older server) looks like a network
  // failure to the browser. Once reconnecting keeps failing, ask the page itself: a
  // redirect means the learner was logged out, a 404 that the lesson is gone; both are
  // final, so say so instead of retrying for ever.
  async function checkPageThenReconnect() {
    let response;
    try {
      response = await fetch(window.location.href, {
        credentials: "same-origin",
        redirect: "manual",
        headers: { Accept: "text/html" },
      });
    } catch (error) {
      scheduleReconnect(); // offline: keep trying
      return;
    }
    if (response.type === "opaqueredirect") {
      stopReconnecting(gettext("You've been logged out."), gettext("Log in again"), panel.dataset.loginUrl);
    } else if (response.status === 404) {
      stopReconnecting(gettext("This lesson is no longer available."), gettext("See all lessons"), "/");
    } else {
      scheduleReconnect();
    }
  }

  function stopReconnecting(text, linkText, href) {
    state.leaving = true;
    setStatus("");
    ui.status.append(text, " ");
    const link = document.createElement("a");
    link.href = href + (href.includes("?") ? "&" : "?") + "next=" + encodeURIComponent(window.location.pathname);
    link.textContent = linkText;
    ui.status.append(link);
    ui.status.hidden = false;
    ui.input.disabled = true;
    syncControls();
  }

  // Stay on the newest message when the list changes size (a prompt opens, a phone turns).
  let pinned = true;
  ui.list.addEventListener(
    "scroll",
    () => {
      pinned = nearBottom();
    },
    { passive: true }
  );
  if ("ResizeObserver" in window) {
    new ResizeObserver(() => {
      if (pinned) {
        scrollToEnd();
      }
    }).observe(ui.list);
  }

  window.addEventListener("online", () => {
    if (!state.socket && !state.leaving) {
      connect();
    }
  });
  window.addEventListener("pagehide", () => {
    state.leaving = true;
  });
  window.addEventListener("pageshow", (event) => {
    // Back/forward cache: the page comes back without its socket.
    if (event.persisted) {
      state.leaving = false;
      state.attempts = 0;
      connect();
    }
  });

  updateCounter();
  connect();
})();
