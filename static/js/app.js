// Keyboard navigation shared by every screen: "/" focuses the search, "g x" jumps to a
// screen (the data-shortcut of a navigation link), a screen's own keys press its data-key
// buttons, "?" shows them all. Typing in a field never triggers a shortcut.
(function () {
  "use strict";
  let pending = "";
  let pendingTimer = null;

  function typing(target) {
    return target.closest("input, textarea, select, [contenteditable=true]") !== null;
  }

  function showHelp() {
    const dialog = document.getElementById("shortcuts");
    if (!dialog || dialog.open) return;
    listScreenKeys();
    dialog.showModal();
  }

  // The keys of the screen as it is now (an htmx swap may have changed them): every visible
  // element with data-key, described by its data-key-help, else its own label without "(x)".
  function listScreenKeys() {
    const group = document.getElementById("screen-shortcuts");
    if (!group) return;
    const list = group.querySelector("dl");
    const seen = new Set();
    list.replaceChildren();
    document.querySelectorAll("main [data-key]").forEach(function (el) {
      const key = el.dataset.key;
      if (seen.has(key) || el.offsetParent === null || el.disabled) return;
      seen.add(key);
      const term = document.createElement("dt");
      term.textContent = key;
      const description = document.createElement("dd");
      description.textContent = describeKey(el, key);
      list.append(term, description);
    });
    group.hidden = seen.size === 0;
  }

  function describeKey(el, key) {
    if (el.dataset.keyHelp) return el.dataset.keyHelp;
    const text = el.textContent.split("(" + key + ")").join("").replace(/[\u2190\u2192]/g, "");
    return text.replace(/\s+/g, " ").trim() || el.getAttribute("aria-label") || el.title || key;
  }

  document.addEventListener("keydown", function (event) {
    // Ctrl+Enter (Cmd+Enter) in a form that asks for it submits it from any of its fields.
    const form = event.target.form;
    if ((event.ctrlKey || event.metaKey) && event.key === "Enter" && form && form.hasAttribute("data-ctrl-enter")) {
      event.preventDefault();
      form.requestSubmit();
      return;
    }
    if (event.ctrlKey || event.metaKey || event.altKey || typing(event.target)) return;
    if (event.key === "/") {
      const field = document.querySelector("[data-focus-key]") || document.querySelector("main input, main select");
      if (field) { event.preventDefault(); field.focus(); }
      return;
    }
    if (event.key === "?") { event.preventDefault(); showHelp(); return; }
    // Screen actions: a visible element with data-key="a" is pressed by the key a. While htmx
    // is still swapping in the last answer, keys wait: the new buttons are not wired up yet.
    if (document.querySelector(".htmx-request, .htmx-swapping, .htmx-settling")) {
      event.preventDefault();
      return;
    }
    const action = Array.from(document.querySelectorAll('[data-key="' + CSS.escape(event.key) + '"]'))
      .find(function (el) { return el.offsetParent !== null && !el.disabled; });
    if (action) { event.preventDefault(); action.click(); return; }
    const combo = pending ? pending + " " + event.key : event.key;
    const link = document.querySelector('[data-shortcut="' + CSS.escape(combo) + '"]');
    if (link) { event.preventDefault(); pending = ""; link.click(); return; }
    const prefix = document.querySelector('[data-shortcut^="' + CSS.escape(combo + " ") + '"]');
    pending = prefix ? combo : "";
    clearTimeout(pendingTimer);
    pendingTimer = setTimeout(function () { pending = ""; }, 1200);
  });

  // Folder uploads: browsers send only each file's base name, so pass the relative paths.
  // They send no file dates either: a hidden "<input name>_dates" field, where the form has
  // one (folders and plain multi-file uploads), gets each file's lastModified, in order.
  document.addEventListener("change", function (event) {
    const input = event.target;
    if (!input.matches || !input.matches("input[type=file]") || !input.form) return;
    const dates = input.form.querySelector('input[name="' + CSS.escape(input.name + "_dates") + '"]');
    if (dates) dates.value = JSON.stringify(Array.from(input.files, function (f) { return f.lastModified; }));
    if (!input.matches("[webkitdirectory]")) return;
    const target = input.form.querySelector("input[name=folder_paths]");
    if (!target) return;
    target.value = JSON.stringify(Array.from(input.files, function (f) { return f.webkitRelativePath; }));
  });

  // A review screen holds its item for the person; leaving it without deciding (a link, the
  // back button, closing the tab) lets go at once. A form submitted from the page decides
  // or moves on by itself, so it sends nothing.
  let submitting = false;
  document.addEventListener("submit", function () { submitting = true; });
  window.addEventListener("pagehide", function () {
    const held = document.querySelector("[data-release-url]");
    if (!held || submitting || !navigator.sendBeacon) return;
    const headers = JSON.parse(document.body.getAttribute("hx-headers") || "{}");
    const form = new FormData();
    form.append("csrfmiddlewaretoken", headers["X-CSRFToken"] || "");
    navigator.sendBeacon(held.dataset.releaseUrl, form);
  });
  window.addEventListener("pageshow", function () { submitting = false; });

  // Citation markers: hovering or focusing [n] lights up source n (its sentence in its
  // passage) and scrolls it into view in the sources panel.
  function lightSource(marker, on) {
    const source = document.getElementById(marker.dataset.cite);
    if (!source) return;
    document.querySelectorAll(".source.is-lit").forEach(function (el) { el.classList.remove("is-lit"); });
    if (on) {
      source.classList.add("is-lit");
      source.scrollIntoView({ block: "nearest" });
    }
  }
  ["mouseover", "focusin"].forEach(function (type) {
    document.addEventListener(type, function (event) {
      const marker = event.target.closest && event.target.closest("[data-cite]");
      if (marker) lightSource(marker, true);
    });
  });
  ["mouseout", "focusout"].forEach(function (type) {
    document.addEventListener(type, function (event) {
      const marker = event.target.closest && event.target.closest("[data-cite]");
      if (marker && marker !== document.activeElement) lightSource(marker, false);
    });
  });
  // Digits 1-9 focus the first marker of that source (which lights it up); a source the
  // reply does not cite is focused itself. Escape leaves a text field, so keys act again.
  document.addEventListener("keydown", function (event) {
    if (event.key === "Escape" && typing(event.target)) { event.target.blur(); return; }
    if (event.ctrlKey || event.metaKey || event.altKey || typing(event.target)) return;
    if (!/^[1-9]$/.test(event.key)) return;
    const marker = document.querySelector('[data-cite="src-' + event.key + '"]');
    const source = document.getElementById("src-" + event.key);
    if (marker) { event.preventDefault(); marker.focus(); return; }
    if (source) {
      event.preventDefault();
      document.querySelectorAll(".source.is-lit").forEach(function (el) { el.classList.remove("is-lit"); });
      source.classList.add("is-lit");
      source.focus();
    }
  });
  // A form with data-confirm asks before it is sent.
  document.addEventListener("submit", function (event) {
    const message = event.target.dataset && event.target.dataset.confirm;
    if (message && !window.confirm(message)) { event.preventDefault(); event.stopImmediatePropagation(); }
  }, true);

  document.addEventListener("click", function (event) {
    if (event.target.closest("[data-help]")) showHelp();
    const focus = event.target.closest("[data-focus]");
    if (focus) {
      const field = document.getElementById(focus.dataset.focus);
      if (field) field.focus();
    }
    const marker = event.target.closest("[data-cite]");
    if (marker) lightSource(marker, true);
    const toggle = event.target.closest("[data-toggle]");
    if (toggle) {
      const panel = document.getElementById(toggle.dataset.toggle);
      document.querySelectorAll(".panel").forEach(function (p) { if (p !== panel) p.hidden = true; });
      if (panel) {
        panel.hidden = !panel.hidden;
        const first = panel.querySelector("[autofocus], textarea, input:not([type=hidden])");
        if (!panel.hidden && first) first.focus();
      }
    }
  });
})();
