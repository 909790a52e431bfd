// PASS dev: plays the Slack client against the local stand-in. Plain JS, no build step.
//
// The page long-polls GET /dev/state for the acting person's view of the workspace and redraws
// it; typing, clicks and modal submissions go to the stand-in (POST /dev/…), which signs them
// as Slack does and sends them to the real bot.
"use strict";

const app = {
  me: localStorage.getItem("passdev.user") || "U0ALICE",
  version: -1,
  data: null,
  pane: null,          // "thread" | "calls" | null
  thread: null,        // ts of the open thread
  modalKey: null,      // id:hash of the modal on screen (its inputs survive redraws)
  abort: null,
  seen: new Map(),     // ts -> edits, to flash messages updated in place
};

// --- small helpers ------------------------------------------------------------------------------

const $ = (id) => document.getElementById(id);

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "class") node.className = value;
    else if (key === "html") node.innerHTML = value;
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value === true ? "" : value);
  }
  append(node, ...children);
  return node;
}

function append(node, ...children) {
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

const escapeHtml = (s) =>
  String(s).replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
const decodeEntities = (s) => String(s).replace(/&lt;/g, "<").replace(/&gt;/g, ">").replace(/&amp;/g, "&");

function userName(id) {
  if (!app.data) return id;
  if (id === app.data.bot.id) return app.data.bot.name;
  if (id === "USLACKBOT") return "Slackbot";
  const user = app.data.users.find((u) => u.id === id);
  return user ? user.name : id;
}

function timeOf(ts) {
  return new Date(parseFloat(ts) * 1000).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
}

async function post(path, body) {
  const response = await fetch(path, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ user: app.me, ...body }),
  });
  if (!response.ok) {
    const detail = await response.json().catch(() => ({}));
    banner(`The stand-in refused that (${detail.error || response.status}).`);
  }
  return response.ok;
}

function banner(text) {
  const node = $("banner");
  node.hidden = !text;
  node.textContent = text || "";
}

// --- mrkdwn -------------------------------------------------------------------------------------

const EMOJI = {
  inbox_tray: "📥", mag: "🔍", brain: "🧠", test_tube: "🧪", raised_hand: "✋", white_check_mark: "✅",
  arrows_counterclockwise: "🔄", rocket: "🚀", no_entry_sign: "🚫", construction: "🚧", x: "❌",
  hourglass: "⌛", hourglass_flowing_sand: "⏳", repeat: "🔁", heavy_multiplication_x: "✖️", red_circle: "🔴", large_yellow_circle: "🟡",
  white_circle: "⚪", package: "📦", building_construction: "🏗️", clipboard: "📋", page_facing_up: "📄",
  no_entry: "⛔", warning: "⚠️", wave: "👋", shield: "🛡️", alarm_clock: "⏰", tada: "🎉", memo: "📝",
  bar_chart: "📊", hammer_and_wrench: "🛠️", lock: "🔒", link: "🔗", eyes: "👀", bulb: "💡", bell: "🔔", straight_ruler: "📏",
  heavy_check_mark: "✔️", large_green_circle: "🟢", zap: "⚡", fire: "🔥", calendar: "📅", thumbsup: "👍",
};

function formatDate(seconds, format, fallback) {
  if (!Number.isFinite(seconds)) return fallback || "";
  const at = new Date(seconds * 1000);
  const today = new Date();
  const dayDiff = Math.round((new Date(today.toDateString()) - new Date(at.toDateString())) / 86400000);
  const short = at.toLocaleDateString([], { month: "short", day: "numeric" });
  const pretty = dayDiff === 0 ? "today" : dayDiff === 1 ? "yesterday" : dayDiff === -1 ? "tomorrow" : short;
  const parts = {
    date_num: at.toISOString().slice(0, 10),
    date: at.toLocaleDateString([], { month: "long", day: "numeric", year: "numeric" }),
    date_short: at.toLocaleDateString([], { month: "short", day: "numeric", year: "numeric" }),
    date_long: at.toLocaleDateString([], { weekday: "long", month: "long", day: "numeric", year: "numeric" }),
    date_pretty: pretty, date_short_pretty: pretty, date_long_pretty: pretty,
    time: at.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" }),
    time_secs: at.toLocaleTimeString(),
  };
  return String(format || "").replace(/\{(\w+)\}/g, (m, key) => parts[key] ?? m);
}

function control(inner) {
  // Slack's <…> sequences: mentions, channels, dates, links.
  const bar = inner.indexOf("|");
  const target = bar < 0 ? inner : inner.slice(0, bar);
  const label = bar < 0 ? "" : inner.slice(bar + 1);
  const text = (s) => escapeHtml(decodeEntities(s));
  if (target.startsWith("@")) return `<span class="mention">@${text(userName(target.slice(1)) || label)}</span>`;
  if (target.startsWith("#")) return `<span class="mention">#${text(label || target.slice(1))}</span>`;
  if (target.startsWith("!date^")) {
    const [, seconds, format] = target.split("^");
    return `<time title="${text(label)}">${text(formatDate(Number(seconds), format, label))}</time>`;
  }
  if (target.startsWith("!subteam^")) return `<span class="mention">@${text(label || target.slice(9))}</span>`;
  if (target.startsWith("!")) return `<span class="mention">@${text(target.slice(1))}</span>`;
  const url = decodeEntities(target);
  if (!/^(https?:|mailto:)/i.test(url)) return text(`<${inner}>`);
  return `<a href="${escapeHtml(url)}" target="_blank" rel="noopener noreferrer">${text(label || url)}</a>`;
}

function mrkdwn(source) {
  const held = [];
  const hold = (html) => `\u0000${held.push(html) - 1}\u0000`;
  let s = String(source ?? "");
  s = s.replace(/```([\s\S]*?)```/g, (m, code) => hold(`<pre class="code">${escapeHtml(decodeEntities(code.replace(/^\n/, "")))}</pre>`));
  s = s.replace(/`([^`\n]+)`/g, (m, code) => hold(`<code>${escapeHtml(decodeEntities(code))}</code>`));
  s = s.replace(/<([^<>\n]+)>/g, (m, inner) => hold(control(inner)));
  s = escapeHtml(decodeEntities(s));
  const edge = "(^|[\\s(\\u0000\"'])";
  const end = "(?=$|[\\s.,;:!?)\\u0000\"'])";
  s = s.replace(new RegExp(`${edge}\\*([^*\\n]+?)\\*${end}`, "g"), "$1<b>$2</b>");
  s = s.replace(new RegExp(`${edge}_([^_\\n]+?)_${end}`, "g"), "$1<i>$2</i>");
  s = s.replace(new RegExp(`${edge}~([^~\\n]+?)~${end}`, "g"), "$1<s>$2</s>");
  s = s.replace(/:([a-z0-9_+-]+):/g, (m, name) => (EMOJI[name] ? `<span class="emoji" title=":${name}:">${EMOJI[name]}</span>` : m));
  s = s.split("\n").map((line) => (line.startsWith("&gt; ") ? `<blockquote>${line.slice(5)}</blockquote>` : line)).join("\n");
  s = s.replace(/\n/g, "<br>");
  for (let i = 0; i < 3 && s.includes("\u0000"); i++) s = s.replace(/\u0000(\d+)\u0000/g, (m, n) => held[Number(n)]);
  return s;
}

function plain(textObject) {
  const value = escapeHtml(textObject?.text ?? "");
  return textObject?.emoji === false ? value : value.replace(/:([a-z0-9_+-]+):/g, (m, n) => EMOJI[n] || m);
}

function textHtml(textObject) {
  if (!textObject) return "";
  return textObject.type === "mrkdwn" ? mrkdwn(textObject.text) : plain(textObject);
}

// --- Block Kit ----------------------------------------------------------------------------------

function renderBlocks(blocks, ctx) {
  return (blocks || []).map((block, index) => renderBlock(block, index, ctx));
}

function renderBlock(block, index, ctx) {
  const kind = block.type;
  const attrs = { "data-block-type": kind, "data-block-id": block.block_id || `#${index}` };
  switch (kind) {
    case "header":
      return el("div", { ...attrs, class: "blk blk-header", html: plain(block.text) });
    case "section": {
      const node = el("div", { ...attrs, class: "blk blk-section" });
      const main = el("div", { class: "text" });
      if (block.text) main.append(el("div", { html: textHtml(block.text) }));
      if (block.fields) main.append(el("div", { class: "fields" }, block.fields.map((f) => el("div", { html: textHtml(f) }))));
      node.append(main);
      if (block.accessory) node.append(renderElement(block.accessory, block, index, ctx));
      return node;
    }
    case "context":
      return el("div", { ...attrs, class: "blk blk-context" }, (block.elements || []).map((e) =>
        e.type === "image" ? el("img", { src: e.image_url, alt: e.alt_text || "" }) : el("span", { html: textHtml(e) })));
    case "divider":
      return el("hr", { ...attrs, class: "blk-divider" });
    case "actions":
      return el("div", { ...attrs, class: "blk blk-actions" }, (block.elements || []).map((e) => renderElement(e, block, index, ctx)));
    case "image":
      return el("figure", { ...attrs, class: "blk blk-image" }, el("img", { src: block.image_url, alt: block.alt_text || "" }));
    case "markdown":
      return el("div", { ...attrs, class: "blk blk-markdown" }, block.text || "");
    case "rich_text":
      return el("div", { ...attrs, class: "blk text" }, richText(block));
    case "input":
      return ctx.modal ? renderInput(block, ctx) : unsupported(`input block outside a modal`);
    default:
      return unsupported(`block type "${kind}" (not drawn by the dev page)`);
  }
}

function richText(block) {
  const words = [];
  const walk = (node) => {
    if (node.text) words.push(node.text);
    if (node.type === "user") words.push(`@${userName(node.user_id)}`);
    (node.elements || []).forEach(walk);
  };
  walk(block);
  return words.join("");
}

function unsupported(what) {
  return el("div", { class: "unsupported" }, what);
}

function renderElement(element, block, index, ctx) {
  if (element.type === "button") {
    const classes = ["btn", element.style || ""].join(" ").trim();
    const button = el("button", {
      type: "button",
      class: classes,
      "data-action-id": element.action_id,
      html: plain(element.text),
    });
    button.addEventListener("click", () => press(element, button, ctx));
    return button;
  }
  if (element.type === "image") return el("img", { class: "accessory", src: element.image_url, alt: element.alt_text || "" });
  return unsupported(`${element.type} element`);
}

async function press(element, button, ctx) {
  if (element.url) window.open(element.url, "_blank", "noopener");
  if (element.confirm && !(await confirmDialog(element.confirm))) return;
  if (ctx.modal) return; // buttons inside modals are not used by PASS
  button.disabled = true;
  try {
    await post("/dev/click", { ts: ctx.ts, action_id: element.action_id });
  } finally {
    button.disabled = false;
  }
}

// --- confirm dialogs and modals -----------------------------------------------------------------

function confirmDialog(confirm) {
  return new Promise((resolve) => {
    const layer = $("dialog-layer");
    const done = (answer) => { layer.replaceChildren(); resolve(answer); };
    const style = confirm.style === "danger" ? "btn danger" : "btn primary";
    layer.replaceChildren(el("div", { class: "backdrop", role: "dialog", "aria-modal": "true", "data-dialog": "confirm" },
      el("div", { class: "modal small" },
        el("header", {}, el("h2", { html: plain(confirm.title) })),
        el("div", { class: "modal-body dialog-text", html: textHtml(confirm.text) }),
        el("footer", {},
          el("button", { type: "button", class: "btn", "data-confirm": "deny", onclick: () => done(false), html: plain(confirm.deny || { text: "Cancel" }) }),
          el("button", { type: "button", class: style, "data-confirm": "confirm", onclick: () => done(true), html: plain(confirm.confirm || { text: "Yes" }) })))));
  });
}

function renderModal(modal) {
  const layer = $("modal-layer");
  if (!modal) {
    layer.replaceChildren();
    app.modalKey = null;
    return;
  }
  const key = `${modal.id}:${modal.hash}`;
  if (key !== app.modalKey) {
    app.modalKey = key;
    const view = modal.view;
    const ctx = { modal: true, errors: {}, viewId: modal.id };
    const submit = view.submit
      ? el("button", { type: "submit", class: "btn primary", "data-modal": "submit", html: plain(view.submit) })
      : null;
    const form = el("form", { class: "modal", "data-view-id": modal.id, "data-callback-id": view.callback_id || "" },
      el("header", {}, el("h2", { html: plain(view.title) }),
        el("button", { type: "button", class: "icon", "aria-label": "Close", onclick: () => closeModal(modal.id) }, "×")),
      el("div", { class: "modal-body" },
        el("div", { class: "modal-error", "data-error-for": "" }),
        violationsBox(modal.violations, "Slack would refuse to open this modal"),
        renderBlocks(view.blocks, ctx)),
      el("footer", {},
        el("button", { type: "button", class: "btn", "data-modal": "close", onclick: () => closeModal(modal.id), html: plain(view.close || { text: "Cancel" }) }),
        submit));
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      if (submit) submit.disabled = true;
      try {
        await post("/dev/submit", { view_id: modal.id, values: collectInputs(form) });
      } finally {
        if (submit) submit.disabled = false;
      }
    });
    layer.replaceChildren(el("div", { class: "backdrop" }, form));
  }
  for (const node of layer.querySelectorAll("[data-error-for]")) {
    node.textContent = modal.errors[node.getAttribute("data-error-for")] || "";
  }
}

async function closeModal(viewId) {
  await post("/dev/close", { view_id: viewId });
}

function renderInput(block, ctx) {
  const element = block.element || {};
  const blockId = block.block_id || "";
  const name = `in-${blockId}`;
  const wrap = el("div", { class: "input-block", "data-input-block": blockId, "data-kind": element.type });
  wrap.append(el("div", { class: "label" }, el("span", { html: plain(block.label) }), block.optional ? el("span", { class: "optional" }, " (optional)") : null));
  const initial = new Set((element.initial_options || []).map((o) => o.value));
  if (element.initial_option) initial.add(element.initial_option.value);
  const choice = (option, type) => el("label", { class: "choice" },
    el("input", { type, name, value: option.value, checked: initial.has(option.value) }),
    el("span", {}, el("span", { html: textHtml(option.text) }), option.description ? el("span", { class: "desc", html: textHtml(option.description) }) : null));
  switch (element.type) {
    case "plain_text_input": {
      const attrs = { name, maxlength: element.max_length, placeholder: element.placeholder?.text, "data-action-id": element.action_id };
      const input = element.multiline ? el("textarea", attrs) : el("input", { ...attrs, type: "text" });
      input.value = element.initial_value || "";
      wrap.append(input);
      break;
    }
    case "checkboxes":
      wrap.append(...(element.options || []).map((o) => choice(o, "checkbox")));
      if (block.dispatch_action) {
        // Slack tells the app of each tick in a block that dispatches its actions.
        wrap.addEventListener("change", (event) => {
          const form = event.target.closest("form");
          post("/dev/change", { view_id: ctx.viewId, block_id: blockId, values: collectInputs(form) });
        });
      }
      break;
    case "radio_buttons":
      wrap.append(...(element.options || []).map((o) => choice(o, "radio")));
      break;
    case "static_select":
    case "multi_static_select":
      wrap.append(el("select", { name, multiple: element.type === "multi_static_select" },
        element.type === "static_select" ? el("option", { value: "" }, element.placeholder?.text || "Select…") : null,
        (element.options || []).map((o) => el("option", { value: o.value, selected: initial.has(o.value) }, o.text?.text || o.value))));
      break;
    default:
      wrap.append(unsupported(`${element.type} input`));
  }
  if (block.hint) wrap.append(el("div", { class: "hint", html: plain(block.hint) }));
  wrap.append(el("div", { class: "error", "data-error-for": blockId }));
  return wrap;
}

function collectInputs(form) {
  const values = {};
  for (const wrap of form.querySelectorAll("[data-input-block]")) {
    const blockId = wrap.getAttribute("data-input-block");
    const field = wrap.querySelector("input[type=text], textarea");
    if (field) {
      values[blockId] = { value: field.value };
      continue;
    }
    const picked = [...wrap.querySelectorAll("input:checked")].map((i) => i.value);
    const select = wrap.querySelector("select");
    if (select) picked.push(...[...select.selectedOptions].map((o) => o.value).filter(Boolean));
    values[blockId] = { selected: picked };
  }
  return values;
}

function violationsBox(violations, title) {
  if (!violations || !violations.length) return null;
  return el("div", { class: "violations", "data-violations": violations.length },
    el("strong", {}, `⚠ ${title} (invalid_blocks): ${violations.length} Slack limit(s) broken`),
    el("ul", {}, violations.map((v) => el("li", {}, v))));
}

// --- messages -----------------------------------------------------------------------------------

const COLORS = ["#e8912d", "#2eb67d", "#36c5f0", "#e01e5a", "#4a154b", "#1264a3"];

function avatar(user) {
  const name = userName(user);
  const color = user === app.data.bot.id ? "#611f69" : COLORS[[...user].reduce((a, c) => a + c.charCodeAt(0), 0) % COLORS.length];
  return el("div", { class: "avatar", style: `background:${color}` }, name.slice(0, 1).toUpperCase());
}

function renderMessage(message, where) {
  const isBot = message.user === app.data.bot.id;
  const before = app.seen.get(message.ts);
  const changed = before !== undefined && before !== message.edits;
  app.seen.set(message.ts, message.edits);
  const node = el("div", {
    class: `msg${message.ephemeral ? " ephemeral" : ""}${changed ? " flash" : ""}`,
    id: `${where}-${message.ts}`,
    "data-ts": message.ts,
    "data-ephemeral": message.ephemeral ? "true" : null,
    "data-edits": message.edits,
  });
  const body = el("div", { class: "body" },
    el("div", { class: "meta" },
      el("span", { class: "name" }, userName(message.user)),
      isBot || message.user === "USLACKBOT" ? el("span", { class: "badge" }, "APP") : null,
      el("time", {}, timeOf(message.ts)),
      message.edits ? el("span", { class: "edited", title: `updated in place ${message.edits} time(s)` }, "(edited)") : null));
  if (message.ephemeral) {
    body.append(el("div", { class: "eph-note" }, "👁 Only visible to you",
      el("button", { type: "button", onclick: () => post("/dev/dismiss", { ts: message.ts }) }, "Dismiss")));
  }
  append(body, violationsBox(message.violations, "Slack would refuse this message"));
  if (message.blocks && message.blocks.length) {
    body.append(el("div", { class: "blocks" }, renderBlocks(message.blocks, { ts: message.ts })));
  } else if (message.text) {
    body.append(el("div", { class: "text", html: mrkdwn(message.text) }));
  }
  for (const file of message.files || []) {
    body.append(el("details", { class: "file", "data-file": file.id },
      el("summary", {}, `📄 ${file.title} · ${file.name} · ${file.size.toLocaleString()} bytes`),
      el("pre", {}, file.preview + (file.truncated ? "\n…" : ""))));
  }
  if (where === "chan" && message.replies) {
    body.append(el("button", { type: "button", class: "replies", "data-open-thread": message.ts, onclick: () => openThread(message.ts) },
      `${message.replies} ${message.replies === 1 ? "reply" : "replies"}`));
  }
  node.append(avatar(message.user), body);
  const shortcuts = (app.data.info || {}).shortcuts || [];
  const tools = el("div", { class: "msg-tools" });
  if (where === "chan" && !message.ephemeral) {
    tools.append(el("button", { type: "button", class: "reply-link", onclick: () => openThread(message.ts) }, "Reply in thread"));
  }
  if (!message.ephemeral && !isBot && shortcuts.length) {
    // Slack's "More actions" menu on a message: the app's message shortcuts.
    tools.append(el("details", { class: "more-actions" },
      el("summary", { "aria-label": "More actions", title: "More actions" }, "⋯"),
      el("div", { class: "menu" }, shortcuts.map((s) => el("button", {
        type: "button", "data-shortcut": s.callback_id,
        onclick: (event) => { event.target.closest("details").open = false; post("/dev/shortcut", { ts: message.ts, callback_id: s.callback_id }); },
      }, s.name)))));
  }
  if (tools.childElementCount) node.append(tools);
  return node;
}

function renderList(container, messages, where, empty) {
  const nearBottom = container.scrollHeight - container.scrollTop - container.clientHeight < 80;
  const top = container.scrollTop;
  container.replaceChildren(...(messages.length ? messages : [empty]).map((m) => (m instanceof Node ? m : renderMessage(m, where))));
  container.scrollTop = nearBottom ? container.scrollHeight : top;
}

function renderChannel() {
  const inChannel = app.data.messages.filter((m) => !m.thread_ts || m.thread_ts === m.ts);
  const intro = el("div", { class: "intro" }, el("h2", {}, "This is the very beginning of #planning"),
    el("p", { html: `Type <code>/pass plan</code> followed by a PRD (or use <b>Paste a PRD…</b>), then switch people on the left to try the approval policy. <code>/pass help</code> lists everything.` }));
  renderList($("messages"), inChannel, "chan", intro);
}

function renderThread() {
  if (app.pane !== "thread" || !app.thread) return;
  const all = app.data.messages;
  const parent = all.find((m) => m.ts === app.thread);
  const replies = all.filter((m) => m.thread_ts === app.thread && m.ts !== app.thread);
  const items = parent ? [renderMessage(parent, "thread"), el("div", { class: "thread-divider" }, `${replies.length} ${replies.length === 1 ? "reply" : "replies"}`), ...replies.map((m) => renderMessage(m, "thread"))] : [];
  renderList($("thread-messages"), items, "thread", el("div", { class: "intro" }, "That message is gone."));
}

function renderCalls() {
  $("calls-count").textContent = app.data.calls_total;
  const bad = app.data.violations_total;
  const total = $("violations-total");
  total.textContent = bad ? `⚠ ${bad} Slack limit problem(s) so far` : "No Slack limit broken so far";
  total.className = bad ? "bad" : "";
  if (app.pane !== "calls") return;
  $("calls-list").replaceChildren(...app.data.calls.map((c) => el("li", {},
    el("span", {}, `#${c.n} `), el("span", { class: "method" }, c.method), " ",
    c.ok ? "✓" : el("span", { class: "err" }, `✗ ${c.error}`), " ", el("span", { class: "faint" }, c.what))));
}

function renderSidebar() {
  const users = $("users");
  users.replaceChildren(...app.data.users.map((u) => el("button", {
    type: "button", class: "user-choice", role: "radio", "aria-checked": String(u.id === app.me), "data-user": u.id,
    onclick: () => switchUser(u.id),
  }, avatar(u.id), el("span", {}, u.name), el("span", { class: "role" }, u.role))));
  const info = app.data.info || {};
  $("policy").textContent = info.policy?.text || "";
  $("policy-source").textContent = info.policy ? `from ${info.policy.source}` : "";
  $("planner").textContent = info.planner ? `Planner: ${info.planner}` : "";
  $("sync").textContent = info.sync ? `Sync: ${info.sync}` : "";
}

function render() {
  renderSidebar();
  renderChannel();
  renderThread();
  renderCalls();
  renderModal(app.data.modal);
  document.title = `#planning · PASS dev · ${userName(app.me)}`;
}

// --- panes, users, polling ----------------------------------------------------------------------

function openPane(which) {
  app.pane = which;
  $("side-pane").hidden = !which;
  $("thread-view").hidden = which !== "thread";
  $("calls-view").hidden = which !== "calls";
  $("side-title").textContent = which === "calls" ? "Web API calls" : "Thread";
  if (app.data) render();
}

function openThread(ts) {
  app.thread = ts;
  openPane("thread");
  $("thread-text").focus();
}

function switchUser(id) {
  if (id === app.me) return;
  app.me = id;
  localStorage.setItem("passdev.user", id);
  app.version = -1;
  app.modalKey = null;
  $("dialog-layer").replaceChildren();
  if (app.abort) app.abort.abort();
  poll();
}

async function poll() {
  const me = app.me;
  const controller = new AbortController();
  app.abort = controller;
  while (app.me === me) {
    try {
      const response = await fetch(`/dev/state?user=${encodeURIComponent(me)}&after=${app.version}`, { signal: controller.signal });
      if (!response.ok) throw new Error(`HTTP ${response.status}`);
      const data = await response.json();
      if (app.me !== me) return;
      app.version = data.version;
      app.data = data;
      banner(null);
      render();
    } catch (error) {
      if (controller.signal.aborted) return;
      banner("Lost the connection to passbot dev. Is it still running?");
      await new Promise((resolve) => setTimeout(resolve, 1000));
    }
  }
}

function composer(form, textarea, thread) {
  const send = async () => {
    const text = textarea.value;
    if (!text.trim()) return;
    textarea.disabled = true;
    try {
      if (await post("/dev/send", { text, thread_ts: thread() })) textarea.value = "";
    } finally {
      textarea.disabled = false;
      textarea.focus();
    }
  };
  form.addEventListener("submit", (event) => { event.preventDefault(); send(); });
  textarea.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) { event.preventDefault(); send(); }
  });
}

function pastePrd() {
  const layer = $("dialog-layer");
  const area = el("textarea", { class: "prd-text", "aria-label": "PRD", placeholder: "# My product\n\n## Requirements\n- …" });
  const repo = el("input", { type: "text", placeholder: "owner/name (optional: where issues go)", "aria-label": "Repository" });
  const close = () => layer.replaceChildren();
  const plan = async () => {
    if (!area.value.trim()) return;
    const option = repo.value.trim() ? ` repo=${repo.value.trim()}` : "";
    if (await post("/dev/send", { text: `/pass plan${option}\n${area.value}` })) close();
  };
  layer.replaceChildren(el("div", { class: "backdrop", "data-dialog": "prd" }, el("div", { class: "modal" },
    el("header", {}, el("h2", {}, "Plan a PRD"), el("button", { type: "button", class: "icon", onclick: close }, "×")),
    el("div", { class: "modal-body" }, el("div", { class: "input-block" }, area), el("div", { class: "input-block" }, repo),
      el("p", { class: "faint" }, "Sent as /pass plan with the PRD as its text, as if typed in Slack.")),
    el("footer", {}, el("button", { type: "button", class: "btn", onclick: close }, "Cancel"),
      el("button", { type: "button", class: "btn primary", onclick: plan }, "Plan it")))));
  area.focus();
}

composer($("composer"), $("compose-text"), () => null);
composer($("thread-composer"), $("thread-text"), () => app.thread);
$("paste-prd").addEventListener("click", pastePrd);
$("side-close").addEventListener("click", () => openPane(null));
$("calls-toggle").addEventListener("click", () => openPane(app.pane === "calls" ? null : "calls"));
poll();
