// Secretariat: the attendance board of a sitting, live; leave requests approved or
// refused here.
//
// The counts on top, then only the deputies who are not checked in (those on leave and
// with leave pending among them), grouped by delegation with a count per group: the
// delegations with the most absent first, and in each the absent first, then leave
// pending, then on leave. "只看缺席" ("只看未签到" while open) leaves out those on leave or
// asking for it. The checked-in deputies only on demand, one line of names per delegation.
// The delegations' order is set when the board is drawn and kept while it updates live,
// so a section never jumps from under the pointer; a fresh draw orders them again.
// While the sitting is open (the server's `open`: it has not ended) a deputy without
// check-in or leave is "not checked in yet" and the rate is "so far"; only once it has
// ended are they absent.
//
// An open sitting that has started offers 结束本场会议 (POST /api/sittings/{id}/close), after
// a confirmation on the board itself; once it has ended (closed, or past its scheduled
// end) the board says when, its figures are final and the button is gone. The closing
// comes back as sitting.closed on the meeting's channel, to every console.
//
// A desk message (attendance.*, presence.changed) prompts one re-read of the board (once
// per burst: a deputy's desk message is only a sign that something changed, see
// `authoritative` in hub-client.js), and the board applies the difference: the one entry
// whose status changed moves, the counts change; nothing is rebuilt.

import { get, post } from "./api.js";
import { t } from "./i18n.js";
import { busy, chip, el, field, fill, when } from "./ui.js";
import { sittingPicker, windowText } from "./sittings.js";

let ctx = null;
let picker = null;
let board = null;
let timer = null;
let endTimer = null;
let startTimer = null;
let view = null; // what is drawn: {sitting, open, people: Map(id→deputy), groups, nodes}

const NOT_IN = ["absent", "leave_pending", "on_leave"]; // order inside a delegation
const STATUS = {
  on_leave: ["att.onLeave", "info"],
  leave_pending: ["att.leavePending", "warn"],
};
const NONE = "none"; // the group of deputies without a delegation

export async function mount(c) {
  ctx = c;
  board = el("div", { id: "att-board", "aria-live": "polite" });
  picker = sittingPicker(ctx, "att-sitting", () => refresh());
  fill(document.querySelector("#attendance .body"), field("att.sittings", picker.sel), board);
  picker.draw();
  if (!ctx.overview.sittings.length) fill(board, el("p", { class: "meta" }, t("att.none")));
}

export function onMessage(m) {
  if (!ctx || m.cached) return;
  if (m.channel === `meeting:${ctx.meetingId}` && (m.kind === "sitting.closed" || m.kind === "sitting.edited")) {
    if (picker?.get()?.id === m.body?.sitting?.id) refresh();
    return;
  }
  if (m.channel !== `desk:${ctx.meetingId}`) return;
  if (m.kind.startsWith("attendance.") || m.kind === "presence.changed") {
    clearTimeout(timer);
    timer = setTimeout(refresh, 250);
  }
}

async function refresh() {
  const s = picker?.get();
  if (!s) return;
  let r;
  try {
    r = await get(`/api/sittings/${s.id}/attendance`);
  } catch {
    return;
  }
  if (picker.get()?.id !== s.id) return;
  if (view && view.sitting === s.id && view.open === r.open) update(r);
  else draw(r);
  clearTimeout(endTimer);
  const left = r.open && r.sitting.ends_at ? Date.parse(r.sitting.ends_at) - Date.now() : NaN;
  if (left > 0 && left < 2 ** 31 - 1) endTimer = setTimeout(refresh, left + 1000); // relabel at the end
  clearTimeout(startTimer);
  const until = r.open ? Date.parse(r.sitting.starts_at) - Date.now() : NaN;
  if (until > 0 && until < 2 ** 31 - 1) startTimer = setTimeout(() => drawClose(r), until + 500); // offer closing once it starts
}

const groupKey = (d) => (d.delegation_id === null || d.delegation_id === undefined ? NONE : String(d.delegation_id));
const isIn = (d) => d.status === "checked_in";
const absentKey = (open) => (open ? "att.notYet" : "att.absent");
/** Listed in the groups: not checked in, and absent when only the absent are asked for. */
const shown = (d) => !isIn(d) && (!view.nodes.onlyAbsent.checked || d.status === "absent");

/** The delegations, the most absent first (then the most not checked in, then as the
 * server lists them): key → {name, order}. */
function groupsOf(deputies) {
  const tally = new Map(); // key → {name, absent, out, first}
  deputies.forEach((d, i) => {
    const k = groupKey(d);
    if (!tally.has(k)) tally.set(k, { name: d.delegation_name || t("att.noDelegation"), absent: 0, out: 0, first: i });
    const g = tally.get(k);
    g.absent += d.status === "absent";
    g.out += !isIn(d);
  });
  const keys = [...tally.keys()].sort((a, b) => {
    const x = tally.get(a);
    const y = tally.get(b);
    return y.absent - x.absent || y.out - x.out || x.first - y.first;
  });
  return new Map(keys.map((k, order) => [k, { name: tally.get(k).name, order }]));
}

function draw(r) {
  const people = new Map(r.deputies.map((d) => [d.id, d]));
  const groups = groupsOf(r.deputies);
  const stat = (name, key, cls) =>
    el("div", { class: `stat ${cls}`, "data-count": name }, el("b", {}, "0"), el("span", {}, t(key)));
  const showIn = el("input", { type: "checkbox", id: "att-show-in" });
  const onlyAbsent = el("input", { type: "checkbox", id: "att-only-absent" });
  const nodes = {
    close: el("div", { id: "att-close-box", class: "att-close" }),
    code: el("div", { id: "att-code-box" }),
    counts: el(
      "div",
      { class: "stat-grid", id: "att-counts" },
      stat("expected", "att.expectedN", "a-expected"),
      stat("checked_in", "att.checkedIn", "a-in"),
      stat("on_leave", "att.onLeave", "a-leave"),
      stat("leave_pending", "att.leavePending", "a-pending"),
      stat("absent", absentKey(r.open), "a-absent"),
      stat("online", "att.onlineNow", "a-online"),
    ),
    rate: el("p", { id: "att-rate", class: "meta" }),
    list: el("div", { id: "att-groups" }),
    empty: el("p", { class: "meta", id: "att-all-in" }, t("att.allIn")),
    inBox: el("div", { id: "att-in", hidden: true }),
    showIn,
    onlyAbsent,
    sections: new Map(), // group key → {section, n, ul}
    items: new Map(), // deputy id → li
    inLines: new Map(), // group key → p (only while the checked-in are shown)
  };
  view = { sitting: r.sitting.id, open: r.open, people, groups, nodes };
  showIn.addEventListener("change", () => drawIn());
  // The title says whether those on leave are among the listed.
  const title = el("h3", { id: "att-missing-title" });
  const titled = () => (title.textContent = t(onlyAbsent.checked ? absentKey(r.open) : r.open ? "att.notYetTitle" : "att.absentTitle"));
  onlyAbsent.addEventListener("change", () => {
    titled();
    drawGroups();
  });
  titled();
  drawGroups();
  fill(
    board,
    nodes.close,
    nodes.code,
    nodes.counts,
    nodes.rate,
    title,
    el("label", { class: "row att-toggle" }, onlyAbsent, t(r.open ? "att.onlyNotYet" : "att.onlyAbsent")),
    nodes.list,
    nodes.empty,
    el("label", { class: "row att-toggle" }, showIn, t("att.showIn")),
    nodes.inBox,
  );
  counts(r);
  drawClose(r);
  drawCode(r);
}

/**
 * While the sitting is open: its check-in window, and its check-in code large, to show
 * on the hall's screen (the board is the only answer that carries the code).
 */
function drawCode(r) {
  const box = view.nodes.code;
  const win = r.open ? windowText(r.sitting) : null;
  const code = r.open ? r.checkin_code : null;
  const mode = `${win}|${code}`;
  if (box.dataset.mode === mode) return;
  box.dataset.mode = mode;
  fill(
    box,
    win ? el("p", { class: "meta", id: "att-window" }, win) : null,
    code ? el("div", { class: "att-code", id: "att-code" }, el("span", { class: "meta" }, t("att.codeShow")), el("b", {}, code)) : null,
  );
}

/**
 * While the sitting is open and has started: the 结束本场会议 button, which asks for a
 * confirmation on the board before it closes the sitting. Once ended: when it ended.
 * Drawn again only when what it offers changes (a check-in does not touch it).
 */
function drawClose(r) {
  const box = view?.nodes.close;
  if (!box || view.sitting !== r.sitting.id) return;
  const s = r.sitting;
  const mode = !r.open ? `ended:${s.closed_at || s.ends_at}` : Date.parse(s.starts_at) <= Date.now() ? "offer" : "none";
  if (box.dataset.mode === mode) return;
  box.dataset.mode = mode;
  if (mode === "none") return box.replaceChildren();
  if (!r.open) {
    const key = s.closed_at ? "att.closedAt" : "att.endedAt";
    return fill(box, el("p", { class: "meta", id: "att-ended" }, chip(t("att.closed"), "info"), " ", t(key, { time: when(s.closed_at || s.ends_at) })));
  }
  const start = el("button", { type: "button", id: "att-close", class: "danger" }, t("att.close"));
  const yes = el("button", { type: "button", id: "att-close-yes", class: "danger" }, t("att.closeYes"));
  const no = el("button", { type: "button", id: "att-close-no" }, t("common.cancel"));
  const ask = el("div", { id: "att-close-confirm", role: "alertdialog", "aria-labelledby": "att-close-q", hidden: true }, el("p", { id: "att-close-q" }, t("att.closeConfirm")), el("div", { class: "row" }, yes, no));
  start.addEventListener("click", () => {
    ask.hidden = false;
    start.hidden = true;
    yes.focus();
  });
  no.addEventListener("click", () => {
    ask.hidden = true;
    start.hidden = false;
    start.focus();
  });
  yes.addEventListener("click", () =>
    busy(yes, async () => {
      await post(`/api/sittings/${s.id}/close`, {});
      await refresh();
    }),
  );
  fill(box, start, ask);
}

/** The groups from scratch (on drawing, and when "only the absent" is switched). */
function drawGroups() {
  const n = view.nodes;
  n.list.replaceChildren();
  n.sections.clear();
  n.items.clear();
  const order = [...view.people.values()].sort(byGroupThenStatus);
  for (const d of order) if (shown(d)) place(d);
  allIn();
}

/** Apply a fresh read of the same sitting: only the entries that changed move. */
function update(r) {
  for (const d of r.deputies) {
    const old = view.people.get(d.id);
    view.people.set(d.id, d);
    if (!old) {
      const k = groupKey(d);
      if (!view.groups.has(k)) view.groups.set(k, { name: d.delegation_name || t("att.noDelegation"), order: view.groups.size });
      if (shown(d)) place(d);
      continue;
    }
    if (old.status === d.status && same(old.leave, d.leave) && old.online === d.online) continue;
    if (shown(old)) unplace(old);
    if (shown(d)) place(d);
    if (isIn(old) !== isIn(d)) inLine(groupKey(d));
  }
  counts(r);
  drawClose(r);
  drawCode(r);
}

const same = (a, b) => (a?.id ?? null) === (b?.id ?? null) && (a?.status ?? null) === (b?.status ?? null);

function counts(r) {
  const n = view.nodes;
  const set = (name, v) => {
    const b = n.counts.querySelector(`[data-count="${name}"] b`);
    if (b.textContent !== String(v)) b.textContent = String(v);
  };
  set("expected", r.expected);
  for (const k of ["checked_in", "on_leave", "leave_pending", "absent", "online"]) set(k, r.counts[k]);
  const pct = r.expected ? Math.round((1000 * r.counts.checked_in) / r.expected) / 10 : 0;
  const rate = t(view.open ? "att.rateSoFar" : "att.rate", { pct });
  if (n.rate.textContent !== rate) n.rate.textContent = rate;
  allIn();
}

/** "Everyone is checked in" when nobody is listed, unless the listed are only the absent
 * and someone is on leave (or asking for it). */
function allIn() {
  const n = view.nodes;
  const all = n.sections.size === 0 && (!n.onlyAbsent.checked || [...view.people.values()].every(isIn));
  if (n.empty.hidden !== !all) n.empty.hidden = !all;
}

function byGroupThenStatus(a, b) {
  const ga = view.groups.get(groupKey(a)).order;
  const gb = view.groups.get(groupKey(b)).order;
  return ga - gb || rank(a) - rank(b) || a.id - b.id;
}
const rank = (d) => NOT_IN.indexOf(d.status);

/** The group section of a key, made (in delegation order) when its first entry comes. */
function section(k) {
  const n = view.nodes;
  let g = n.sections.get(k);
  if (g) return g;
  const count = el("span", { class: "att-n" }, "0");
  g = {
    section: el("section", { class: "att-group", "data-delegation": k }, el("h4", {}, `${view.groups.get(k).name} `, count)),
    n: count,
    ul: el("ul", { class: "att-names" }),
  };
  g.section.append(g.ul);
  const mine = view.groups.get(k).order;
  const after = [...n.sections.entries()].find(([o]) => view.groups.get(o).order > mine);
  n.list.insertBefore(g.section, after ? after[1].section : null);
  n.sections.set(k, g);
  return g;
}

function place(d) {
  const g = section(groupKey(d));
  const li = entry(d);
  const next = [...g.ul.children].find((x) => {
    const o = view.people.get(Number(x.dataset.deputy));
    return rank(o) > rank(d) || (rank(o) === rank(d) && o.id > d.id);
  });
  g.ul.insertBefore(li, next || null);
  view.nodes.items.set(d.id, li);
  g.n.textContent = String(g.ul.children.length);
}

function unplace(d) {
  const k = groupKey(d);
  const g = view.nodes.sections.get(k);
  view.nodes.items.get(d.id)?.remove();
  view.nodes.items.delete(d.id);
  if (!g) return;
  if (g.ul.children.length) g.n.textContent = String(g.ul.children.length);
  else {
    g.section.remove();
    view.nodes.sections.delete(k);
  }
}

/** One not-checked-in deputy: the name alone, or with the leave and its actions. */
function entry(d) {
  const attrs = { "data-deputy": d.id, "data-status": d.status, "data-online": d.online ? "true" : null };
  if (d.online) attrs.title = t("att.online");
  const st = STATUS[d.status];
  if (!st) return el("li", attrs, d.name);
  const li = el("li", attrs, d.name, " ", chip(t(st[0]), st[1]));
  if (d.leave) li.append(" ", el("span", { class: "text" }, `${t("att.leaveReason")}：${d.leave.reason}`));
  if (d.leave?.allowed.includes("approve")) {
    const yes = el("button", { type: "button", class: "primary" }, t("att.approve"));
    const no = el("button", { type: "button" }, t("att.refuse"));
    yes.addEventListener("click", () => busy(yes, () => post(`/api/leave/${d.leave.id}/approve`, {}).then(refresh)));
    no.addEventListener("click", () => busy(no, () => post(`/api/leave/${d.leave.id}/refuse`, {}).then(refresh)));
    li.append(" ", yes, " ", no);
  }
  return li;
}

/** The checked-in deputies, one line of names per delegation, while the toggle is on. */
function drawIn() {
  const n = view.nodes;
  n.inLines.clear();
  n.inBox.replaceChildren();
  n.inBox.hidden = !n.showIn.checked;
  if (!n.showIn.checked) return;
  for (const k of view.groups.keys()) inLine(k);
}

function inLine(k) {
  const n = view.nodes;
  if (!n.showIn.checked) return;
  const names = [...view.people.values()].filter((d) => isIn(d) && groupKey(d) === k).map((d) => d.name);
  const line = el("p", { class: "att-in-line", "data-delegation": k }, el("strong", {}, `${view.groups.get(k).name}（${names.length}）`), " ", names.join("、"));
  const old = n.inLines.get(k);
  if (old) old.replaceWith(line);
  else {
    const mine = view.groups.get(k).order;
    const after = [...n.inLines.entries()].find(([o]) => view.groups.get(o).order > mine);
    n.inBox.insertBefore(line, after ? after[1] : null);
  }
  n.inLines.set(k, line);
}
