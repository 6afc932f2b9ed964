// The deputy's page (mobile first): notices with read receipts, the meeting (check-in,
// leave, documents, speaking, opinions), my items and suggestions, my duties.

import { get, keepCopies } from "./api.js";
import { t } from "./i18n.js";
import { chip, drawParts, el, fill, startPage, tabs, when } from "./ui.js";
import * as meetingPart from "./deputy-meeting.js";
import * as itemsPart from "./deputy-items.js";
import * as perfPart from "./deputy-perf.js";

keepCopies(); // offline, the page shows what it read last
const { me, client, read } = await startPage(["deputy"], "page.deputy", { copiesFirst: true });
const meetingId = me.meetings[0] ?? null;
const ctx = { me, client, meetingId };

// -- notices -------------------------------------------------------------------------

/** notice id -> {body, sender, ts, deliveries: [{channel, seq}], open, li, parts} */
const notices = new Map();
const list = document.getElementById("notices");
/** notice id -> read_at, from the server: read on any device (this browser may be new). */
const readElsewhere = new Map();

function readState(n) {
  if (readElsewhere.get(n.body.notice)) return "read";
  if (n.deliveries.some((d) => client.isRead(d.channel, d.seq))) return "read";
  if (n.deliveries.some((d) => client.isReadPending(d.channel, d.seq))) return "pending";
  return "unread";
}

function markRead(n) {
  // Any delivery of the notice counts; reading them all keeps every inbox consistent.
  for (const d of n.deliveries) client.read(d.channel, d.seq);
  updateNotice(n);
  updateBadge();
}

function buildNotice(n) {
  const b = n.body;
  const textId = `notice-text-${b.notice}`;
  const text = el("p", { class: "text", id: textId, hidden: true }, b.text || "");
  const toggle = el(
    "button",
    { type: "button", class: "open", "aria-expanded": "false", "aria-controls": textId },
    t("notice.open"),
  );
  const confirm = el("button", { type: "button", class: "primary confirm", hidden: true }, t("notice.confirm"));
  const state = el("span", { class: "state meta", "aria-live": "polite" });
  toggle.addEventListener("click", () => {
    n.open = !n.open;
    text.hidden = !n.open;
    toggle.setAttribute("aria-expanded", String(n.open));
    if (n.open && !b.confirm && readState(n) === "unread") markRead(n);
    updateNotice(n);
  });
  confirm.addEventListener("click", () => markRead(n));
  const li = el(
    "li",
    { class: "notice", "data-notice": b.notice },
    el(
      "div",
      { class: "row" },
      b.urgent ? chip(t("notice.urgent"), "urgent") : null,
      b.confirm ? chip(t("notice.confirmRequired"), "info") : null,
      el("span", { class: "notice-title grow" }, b.title || ""),
    ),
    el("div", { class: "meta" }, `${n.sender?.name || ""} · ${when(n.ts)}`),
    text,
    el("div", { class: "row" }, toggle, confirm, state),
  );
  n.li = li;
  n.parts = { toggle, confirm, state, text };
}

function updateNotice(n) {
  const s = readState(n);
  const { confirm, state, toggle } = n.parts;
  n.li.classList.toggle("unread", s === "unread");
  n.li.classList.toggle("urgent", !!n.body.urgent);
  n.li.dataset.state = s;
  toggle.textContent = n.open ? t("common.close") : t("notice.open");
  confirm.hidden = !(n.body.confirm && n.open && s === "unread");
  state.textContent =
    s === "read"
      ? t(n.body.confirm ? "notice.confirmed" : "notice.read")
      : s === "pending"
        ? t("notice.readPending")
        : "";
}

function updateBadge() {
  let unread = 0;
  for (const n of notices.values()) if (readState(n) === "unread") unread++;
  const badge = document.getElementById("unread-badge");
  badge.textContent = String(unread);
  badge.hidden = unread === 0;
  badge.setAttribute("aria-label", t("notice.unread", { n: unread }));
  document.getElementById("unread-text").textContent = unread ? t("notice.unread", { n: unread }) : "";
  document.title = `${unread ? `(${unread}) ` : ""}${t("page.deputy")} · ${t("app.name")}`;
  if (!notices.size) fill(list, el("li", { class: "meta empty" }, t("notice.none")));
}

function onNotice(m) {
  const id = m.body.notice;
  let n = notices.get(id);
  if (!n) {
    n = { body: m.body, sender: m.sender, ts: m.ts, deliveries: [], open: false };
    notices.set(id, n);
    buildNotice(n);
    list.querySelector(".empty")?.remove();
    // newest first
    const after = [...notices.values()].filter((x) => x !== n && x.ts > n.ts).length;
    const ref = list.children[after] || null;
    list.insertBefore(n.li, ref);
  }
  if (!n.deliveries.some((d) => d.channel === m.channel && d.seq === m.seq)) {
    n.deliveries.push({ channel: m.channel, seq: m.seq });
  }
  updateNotice(n);
  updateBadge();
}

/** My notices' read receipts as the server holds them, from any of my devices. */
async function loadReceipts() {
  const lists = await Promise.all(me.meetings.map((m) => get(`/api/meetings/${m}/notices`, { quiet: true }).catch(() => ({ notices: [] }))));
  for (const l of lists) for (const x of l.notices) readElsewhere.set(x.id, x.read_at);
  for (const n of notices.values()) updateNotice(n);
  updateBadge();
}

function dropChannel(channel) {
  for (const [id, n] of notices) {
    n.deliveries = n.deliveries.filter((d) => d.channel !== channel);
    if (!n.deliveries.length) {
      n.li.remove();
      notices.delete(id);
    }
  }
  updateBadge();
}

// -- wiring --------------------------------------------------------------------------

const handlers = [meetingPart, itemsPart, perfPart];

client.addEventListener("message", (ev) => {
  const m = ev.detail;
  if (m.kind === "notice" && m.body && m.body.notice != null) onNotice(m);
  for (const h of handlers) h.onMessage?.(m, ctx);
});
client.addEventListener("read", () => {
  for (const n of notices.values()) updateNotice(n);
  updateBadge();
});
client.addEventListener("reset", (ev) => {
  dropChannel(ev.detail.channel);
  for (const h of handlers) h.onReset?.(ev.detail.channel, ctx);
});

if (meetingId === null) {
  document.getElementById("meeting-title").textContent = t("shell.noMeeting");
}
tabs(document.getElementById("tabs"), (name) => {
  for (const h of handlers) h.onTab?.(name);
});
updateBadge();
// The parts load side by side (on a hall's network every round trip counts), or from
// this device's copies first on a repeat visit (drawParts); one part failing to load (its
// error is shown) leaves the others working. Read on another device counts here too:
// asked before the held messages are shown, and again after each reconnect.
const parts = handlers.map((h) => ({ draw: () => h.mount?.(ctx), onMessage: (m) => h.onMessage?.(m, ctx) }));
parts.push({ draw: loadReceipts });
await drawParts({
  read,
  client,
  parts,
  start() {
    const shown = document.querySelector("#tabs [aria-selected=true]")?.dataset.tab;
    for (const h of handlers) h.onTab?.(shown);
    let welcomed = false;
    client.addEventListener("welcome", () => {
      if (welcomed) loadReceipts();
      welcomed = true;
    });
    const channels = [`deputy:${me.id}`];
    if (me.delegation_id) channels.push(`delegation:${me.delegation_id}`);
    for (const m of me.meetings) channels.push(`meeting:${m}`);
    for (const c of channels) client.subscribe(c);
    client.start();
  },
});
