// The deputy's page (mobile first): notices with read receipts, the meeting (check-in,
// leave, documents, speaking, opinions), my items and suggestions, my duties.

import { get, keepCopies } from "./api.js";
import { t } from "./i18n.js";
import { chip, drawParts, el, fill, startPage, tabs, when } from "./ui.js";
import * as meetingPart from "./deputy-meeting.js";
import * as itemsPart from "./deputy-items.js";
import * as perfPart from "./deputy-perf.js";
import * as talkPart from "./deputy-talk.js";

keepCopies(); // offline, the page shows what it read last
const { me, client, read } = await startPage(["deputy"], "page.deputy", { copiesFirst: true });
const meetingId = me.meetings[0] ?? null;
const ctx = { me, client, meetingId };

// -- notices -------------------------------------------------------------------------

/** notice id -> {body, sender, ts, deliveries: [{channel, seq}], open, li, parts, change} */
const notices = new Map();
const list = document.getElementById("notices");
/** notice id -> read_at, from the server: read on any device (this browser may be new). */
const readElsewhere = new Map();
/** notice id -> its last correction or its withdrawal {status, title, text, reason, at, original},
 * from notice.corrected / notice.withdrawn or the server's list, whichever came first. */
const changes = new Map();

/** Keep the latest change of a notice: a withdrawal is final, else the later correction. */
function noteChange(id, c) {
  const before = changes.get(id);
  if (before && (before.status === "withdrawn" || (c.status !== "withdrawn" && before.at > c.at))) return;
  changes.set(id, { ...before, ...c, title: c.title ?? before?.title, text: c.text ?? before?.text, original: c.original ?? before?.original });
  const n = notices.get(id);
  if (n) {
    updateNotice(n);
    updateBadge();
  }
}

function onChange(m) {
  const b = m.body;
  if (m.kind === "notice.corrected") noteChange(b.notice, { status: "corrected", title: b.title, text: b.text, reason: b.reason, at: b.corrected_at });
  else noteChange(b.notice, { status: "withdrawn", reason: b.reason, at: b.withdrawn_at });
}

function readState(n) {
  if (changes.get(n.body.notice)?.status === "withdrawn") return "withdrawn";
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
  // A correction or the withdrawal: its chip and reason; what was sent, on request.
  const title = el("span", { class: "notice-title grow" }, b.title || "");
  const changed = el("span", { class: "changed" });
  const reason = el("p", { class: "change-reason meta", hidden: true });
  const originalId = `notice-original-${b.notice}`;
  const original = el("p", { class: "original", id: originalId, hidden: true });
  const showOriginal = el("button", { type: "button", class: "link show-original", hidden: true, "aria-expanded": "false", "aria-controls": originalId }, t("notice.showOriginal"));
  showOriginal.addEventListener("click", () => {
    n.originalOpen = !n.originalOpen;
    updateNotice(n);
  });
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
      title,
    ),
    el("div", { class: "meta" }, `${n.sender?.name || ""} · ${when(n.ts)} `, changed),
    reason,
    text,
    original,
    el("div", { class: "row" }, toggle, confirm, showOriginal, state),
  );
  n.li = li;
  n.parts = { toggle, confirm, state, text, title, changed, reason, original, showOriginal };
}

/** The card's title and text as the notice stands, its change's chip and reason, and the
 * original (what was first sent) behind 查看原文. A withdrawn notice keeps its text to read
 * on request, and asks for no reading or confirmation. */
function showChange(n) {
  const c = changes.get(n.body.notice);
  const p = n.parts;
  const sent = n.body.corrected_at ? null : { title: n.body.title, text: n.body.text };
  const first = c?.original ?? sent;
  const now = { title: c?.title ?? n.body.title, text: c?.text ?? n.body.text };
  p.title.textContent = now.title || "";
  p.text.textContent = now.text || "";
  const withdrawn = c?.status === "withdrawn";
  n.li.classList.toggle("withdrawn", withdrawn);
  n.li.dataset.status = c?.status ?? (n.body.corrected_at ? "corrected" : "sent");
  const at = c?.at ?? n.body.corrected_at;
  fill(p.changed, at ? chip(t(withdrawn ? "notice.withdrawnAt" : "notice.correctedAt", { time: when(at) }), withdrawn ? "bad" : "warn") : null);
  p.reason.hidden = !c?.reason;
  p.reason.textContent = c?.reason ? t(withdrawn ? "notice.withdrawnReason" : "notice.correctReason", { reason: c.reason }) : "";
  // withdrawn: the text as it stood is the original to read on request; corrected: what was sent
  const hidden = withdrawn ? now : first && (first.title !== now.title || first.text !== now.text) ? first : null;
  p.showOriginal.hidden = !hidden;
  p.showOriginal.textContent = t(n.originalOpen ? "notice.hideOriginal" : "notice.showOriginal");
  p.showOriginal.setAttribute("aria-expanded", String(!!n.originalOpen));
  p.original.hidden = !(hidden && n.originalOpen);
  p.original.textContent = hidden ? `${t("notice.originalLabel")}${hidden.title}${hidden.text ? ` — ${hidden.text}` : ""}` : "";
  p.toggle.hidden = withdrawn;
  if (withdrawn) p.text.hidden = true;
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
        : s === "withdrawn"
          ? t("notice.withdrawn")
          : "";
  showChange(n);
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
  for (const l of lists)
    for (const x of l.notices) {
      readElsewhere.set(x.id, x.read_at);
      if (x.status !== "sent") noteChange(x.id, { status: x.status, title: x.title, text: x.text, reason: x.reason, at: x.changed_at, original: x.original });
    }
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

const handlers = [meetingPart, itemsPart, perfPart, talkPart];

client.addEventListener("message", (ev) => {
  const m = ev.detail;
  if (m.kind === "notice" && m.body && m.body.notice != null) onNotice(m);
  if ((m.kind === "notice.corrected" || m.kind === "notice.withdrawn") && m.body && m.body.notice != null) onChange(m);
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
