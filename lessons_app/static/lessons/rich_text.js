/*
 * Rich text in rendered markdown: math (vendored KaTeX), code (vendored highlight.js),
 * copy buttons and keyboard-scrollable code blocks and tables.
 *
 * Used by the chat (lessons/chat.js, on every render of a reply, streaming included) and
 * by every page on load, for markdown the server rendered (articles, lessons_app/rendering.py).
 * Both renderers mark math the same way, as
 *   <span class="math-inline">TeX</span> or <span class="math-display">TeX</span>,
 * with the TeX as text, so a page without these libraries still shows the source.
 *
 * KaTeX runs with trust off (no \href, \url, \includegraphics, \html...), and builds its
 * output as DOM nodes (katex.render), whose styles it sets through the CSSOM: the
 * Content-Security-Policy's style-src 'self' does not refuse those (docs/security.md).
 */
(function () {
  "use strict";

  // Texts through Django's JavaScript catalogue (/jsi18n/; docs/translations.md).
  const gettext = (text) => (window.gettext ? window.gettext(text) : text);
  const interpolate = (format, values, named) =>
    window.interpolate
      ? window.interpolate(format, values, named)
      : format.replace(/%\((\w+)\)s/g, (_, key) => values[key]);

  // What counts as math in markdown, tried where a "$" or "\(" / "\[" starts.
  // "$…$" needs no space just inside its dollars and no digit just after ("$5 and $10").
  const MATH_PATTERNS = [
    { display: true, pattern: /^\$\$([\s\S]+?)\$\$/ },
    { display: true, pattern: /^\\\[([\s\S]+?)\\\]/ },
    { display: false, pattern: /^\\\(([\s\S]+?)\\\)/ },
    { display: false, pattern: /^\$(?![\s$])((?:\\[\s\S]|[^\\$\n])+?)(?<![\s\\])\$(?!\d)/ },
  ];
  // Where math may start: a "$" not escaped, or "\(" / "\[".
  const MATH_START = /(?<!\\)\$|\\[([]/;
  const MATH_CLASS = { inline: "math-inline", display: "math-display" };
  const LANGUAGE_CLASS = /^language-[A-Za-z0-9_+#-]{1,40}$/;
  const COPIED_MS = 2000;

  function escapeHtml(text) {
    return String(text)
      .replace(/&/g, "&amp;")
      .replace(/</g, "&lt;")
      .replace(/>/g, "&gt;")
      .replace(/"/g, "&quot;")
      .replace(/'/g, "&#39;");
  }

  // A marked extension: math is cut out before marked's escapes and emphasis see it, so
  // "\," stays "\," and "a_1 b_2" stays TeX.
  const markedMath = {
    name: "math",
    level: "inline",
    start(src) {
      const match = src.match(MATH_START);
      return match ? match.index : undefined;
    },
    tokenizer(src) {
      for (const { display, pattern } of MATH_PATTERNS) {
        const match = pattern.exec(src);
        if (match && match[1].trim()) {
          return { type: "math", raw: match[0], text: match[1].trim(), display };
        }
      }
      return undefined;
    },
    renderer(token) {
      const kind = token.display ? MATH_CLASS.display : MATH_CLASS.inline;
      return `<span class="${kind}">${escapeHtml(token.text)}</span>`;
    },
  };

  // The classes sanitised markdown may keep: the math markers and a code block's language.
  function allowedClass(tagName, value) {
    const tag = tagName.toLowerCase();
    if (tag === "span") {
      return value === MATH_CLASS.inline || value === MATH_CLASS.display;
    }
    return tag === "code" && LANGUAGE_CLASS.test(value);
  }

  function renderMath(root) {
    const katex = window.katex;
    if (!katex) {
      return; // the TeX source stays readable
    }
    root.querySelectorAll(`span.${MATH_CLASS.inline}, span.${MATH_CLASS.display}`).forEach((node) => {
      if (node.dataset.tex !== undefined) {
        return; // rendered already
      }
      const tex = node.textContent;
      node.dataset.tex = tex;
      katex.render(tex, node, {
        displayMode: node.classList.contains(MATH_CLASS.display),
        throwOnError: false,
        trust: false,
        strict: "ignore",
        output: "htmlAndMathml",
        maxExpand: 1000,
        maxSize: 50,
      });
    });
  }

  function languageOf(code) {
    const name = Array.from(code.classList).find((value) => LANGUAGE_CLASS.test(value));
    return name ? name.slice("language-".length) : "";
  }

  async function copyText(text) {
    if (navigator.clipboard && window.isSecureContext) {
      await navigator.clipboard.writeText(text);
      return;
    }
    const area = document.createElement("textarea");
    area.value = text;
    area.setAttribute("readonly", "");
    area.className = "visually-hidden";
    document.body.appendChild(area);
    area.select();
    const copied = document.execCommand("copy");
    area.remove();
    if (!copied) {
      throw new Error("copy refused");
    }
  }

  // A button that copies what `text()` gives, and says so on itself for a moment.
  function copyButton(label, spokenLabel, text) {
    const node = document.createElement("button");
    node.type = "button";
    node.className = "copy-button";
    node.textContent = label;
    node.setAttribute("aria-label", spokenLabel);
    let timer = 0;
    node.addEventListener("click", async () => {
      window.clearTimeout(timer);
      try {
        await copyText(text());
        node.textContent = gettext("Copied");
      } catch (error) {
        node.textContent = gettext("Couldn't copy");
      }
      node.dataset.copied = "true";
      timer = window.setTimeout(() => {
        node.textContent = label;
        delete node.dataset.copied;
      }, COPIED_MS);
    });
    return node;
  }

  // Each code block: highlighted, scrollable from the keyboard, with a copy button.
  function decorateCode(root) {
    root.querySelectorAll("pre > code").forEach((code) => {
      const pre = code.parentElement;
      if (pre.parentElement && pre.parentElement.classList.contains("code-block")) {
        return;
      }
      const language = languageOf(code);
      if (window.hljs && language && window.hljs.getLanguage(language)) {
        window.hljs.highlightElement(code);
      }
      const source = code.textContent;
      const wrap = document.createElement("div");
      wrap.className = "code-block";
      const bar = document.createElement("div");
      bar.className = "code-block-bar";
      const name = document.createElement("span");
      name.className = "code-block-language";
      name.textContent = language;
      const label = language
        ? interpolate(gettext("Copy code (%(language)s)"), { language }, true)
        : gettext("Copy code");
      bar.append(name, copyButton(gettext("Copy"), label, () => source));
      pre.tabIndex = 0;
      pre.setAttribute("role", "region");
      pre.setAttribute(
        "aria-label",
        language ? interpolate(gettext("Code (%(language)s)"), { language }, true) : gettext("Code")
      );
      pre.replaceWith(wrap);
      wrap.append(bar, pre);
    });
  }

  // Tables scroll sideways in a container of their own instead of breaking words.
  function wrapTables(root) {
    root.querySelectorAll("table").forEach((table) => {
      if (table.parentElement && table.parentElement.classList.contains("table-scroll")) {
        return;
      }
      const wrap = document.createElement("div");
      wrap.className = "table-scroll";
      wrap.tabIndex = 0;
      wrap.setAttribute("role", "region");
      wrap.setAttribute("aria-label", gettext("Table"));
      table.replaceWith(wrap);
      wrap.appendChild(table);
    });
  }

  function enhance(root) {
    renderMath(root);
    decorateCode(root);
    wrapTables(root);
  }

  window.TutorRichText = { markedMath, allowedClass, enhance, copyButton, copyText };

  function enhancePage() {
    document.querySelectorAll(".prose").forEach(enhance);
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", enhancePage);
  } else {
    enhancePage();
  }
})();
