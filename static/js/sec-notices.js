// Secretariat: compose a notice, and per notice the live delivered / read / not delivered
// counts, a re-push, and the follow-up: who has not got it or not read it, by delegation,
// with a call list.
//
// A card holds counts only, whatever the meeting's size. The follow-up is one dialog,
// loaded from the server each time it opens (the same for the oldest notice as for the
// newest) and re-read while open when the notice's tally moves.

import { get, post } from "./api.js";
import { authoritative } from "./hub-client.js";
import { t } from "./i18n.js";
import { picker, searchIn } from "./picker.js";
import { personReach, reachLine, repushLine } from "./reach.js";
import { busy, chip, el, field, fill, flash, when } from "./ui.js";

const state = new Map(); // notice id -> {notice, counts, li}
let ctx = null;
let list = null;
let open = null; // the follow-up dialog shown: {s, dialog, body, timer}

export async function mount(c) {
  ctx = c;
  mountCompose();
  list = el("ul", { class: "list", id: "notice-list" });
  fill(document.querySelector("#notices .body"), list);
  const r = await get(`/api/meetings/${ctx.meetingId}/notices`);
  for (const n of r.notices) {
    state.set(n.id, {
      notice: n,
      counts: {
        addressees: n.addressees,
        delivered: n.delivered ?? 0,
        read: n.read ?? 0,
        missing: n.addressees - (n.delivered ?? 0),
      },
    });
  }
  renderAll();
}

/** Show a notice just sent (from the desk or this console's own reply), once. */
function addNotice(n) {
  if (state.has(n.id)) return;
  state.set(n.id, {
    notice: n,
    counts: { addressees: n.addressees, delivered: 0, read: 0, missing: n.addressees },
  });
  renderAll();
}

export function onMessage(m) {
  // Only the hub and the secretariat publish notice.* messages: anyone else's is forged.
  if (!ctx || m.channel !== `desk:${ctx.meetingId}` || !authoritative(m)) return;
  if (m.kind === "notice.sent") {
    addNotice(m.body.notice);
  } else if (m.kind === "notice.tally") {
    const s = state.get(m.body.notice);
    if (!s) return;
    const { addressees, delivered, read, missing } = m.body;
    s.counts = { addressees, delivered, read, missing };
    update(s);
    if (open?.s === s && !m.cached) scheduleFollowUp();
  } else if (m.kind === "notice.corrected" || m.kind === "notice.withdrawn") {
    const s = state.get(m.body.notice);
    if (!s || s.notice.status === "withdrawn") return;
    const b = m.body;
    s.notice = b.title !== undefined
      ? { ...s.notice, status: "corrected", title: b.title, text: b.text, reason: b.reason, changed_at: b.corrected_at, original: s.notice.original ?? { title: s.notice.title, text: s.notice.text } }
      : { ...s.notice, status: "withdrawn", reason: b.reason, changed_at: b.withdrawn_at, original: s.notice.original ?? { title: s.notice.title, text: s.notice.text } };
    update(s);
  } else if (m.kind === "reach.attempted") {
    // Another attempt beyond open pages: the card's line is re-read from the exact tally.
    const s = state.get(m.body.notice);
    if (!s) return;
    scheduleReach(s);
    if (open?.s === s && !m.cached) scheduleFollowUp();
  } else if (m.kind === "notice.repushed") {
    const s = state.get(m.body.notice);
    if (s && !m.cached) {
      s.li.querySelector(".repush-note").textContent = `${when(m.ts)} ${t("notice.repushed", { n: m.body.to.length })}`;
    }
  }
}

// -- compose ---------------------------------------------------------------------------

function mountCompose() {
  const dir = ctx.dir;
  const title = el("input", { id: "n-title", required: true, maxlength: 300 });
  const text = el("textarea", { id: "n-text", rows: 4 });
  const urgent = el("input", { type: "checkbox", id: "n-urgent" });
  const confirm = el("input", { type: "checkbox", id: "n-confirm" });
  const radios = ["meeting", "delegations", "deputies"].map((v) =>
    el("input", { type: "radio", name: "n-audience", id: `n-aud-${v}`, value: v, checked: v === "meeting" }),
  );
  const delBox = el(
    "fieldset",
    { id: "n-delegations", hidden: true },
    el("legend", {}, t("notice.pickDelegations")),
    el(
      "div",
      { class: "checks" },
      [...dir.delegations].map(([id, name]) =>
        el("label", { class: "check" }, el("input", { type: "checkbox", value: id, name: "n-del" }), name),
      ),
    ),
  );
  // Only the meeting's deputies can be addressed, found by name (or delegation) with the
  // picker: the form holds the ones chosen, not a checkbox for each of the meeting's.
  const chosenDeps = new Map(); // id -> name
  const chosenList = el("ul", { class: "list", id: "n-deputies-chosen" });
  const drawDeps = () =>
    fill(
      chosenList,
      [...chosenDeps].map(([id, name]) =>
        el("li", { "data-deputy": id }, `${name} `, el("button", { type: "button", class: "link", onclick: () => { chosenDeps.delete(id); drawDeps(); settle(); } }, t("common.remove"))),
      ),
    );
  const depPicker = picker({
    id: "n-dep-pick",
    label: t("notice.pickDeputies"),
    placeholder: t("op.deputyHint"),
    search: searchIn(
      () => dir.deputies.filter((u) => !chosenDeps.has(u.id)),
      (u) => `${u.name} ${u.delegation_name || ""}`,
      (u) => ({ id: u.id, label: u.name, meta: u.delegation_name || "" }),
    ),
    onPick: (c) => {
      chosenDeps.set(c.id, c.label);
      depPicker.clear();
      drawDeps();
      settle();
    },
  });
  const depBox = el("fieldset", { id: "n-deputies", hidden: true }, el("legend", {}, t("notice.pickDeputies")), depPicker.el, chosenList);
  const sync = () => {
    delBox.hidden = !radios[1].checked;
    depBox.hidden = !radios[2].checked;
  };
  for (const r of radios) r.addEventListener("change", sync);
  const send = el("button", { type: "submit", class: "primary", id: "n-send" }, t("notice.sendBtn"));
  // Nothing leaves before the officer has seen how many people it goes to.
  const problem = el("p", { class: "form-problem", id: "n-problem", role: "alert", hidden: true });
  const confirmText = el("span", { id: "n-confirm-text" });
  const yes = el("button", { type: "button", class: "primary", id: "n-confirm-yes" }, t("notice.confirmYes"));
  const no = el("button", { type: "button", id: "n-confirm-no" }, t("notice.confirmNo"));
  const confirmBox = el("div", { class: "row confirm-send", id: "n-confirm-send", role: "group", hidden: true }, confirmText, yes, no);
  let pending = null;
  const settle = () => {
    pending = null;
    confirmBox.hidden = true;
    send.hidden = false;
  };
  const form = el(
    "form",
    { id: "compose-form", novalidate: true },
    field("notice.titleField", title),
    field("notice.body", text),
    el(
      "fieldset",
      {},
      el("legend", {}, t("notice.audience")),
      radios.map((r) =>
        el("label", { class: "check", for: r.id }, r, t({ meeting: "notice.toMeeting", delegations: "notice.toDelegations", deputies: "notice.toDeputies" }[r.value])),
      ),
    ),
    delBox,
    depBox,
    el("div", { class: "row" }, el("label", { class: "check" }, urgent, t("notice.urgent")), el("label", { class: "check" }, confirm, t("notice.confirmRequired"))),
    problem,
    send,
    confirmBox,
  );
  // Any change to the form asks for a fresh confirmation with the new count.
  form.addEventListener("input", settle);
  form.addEventListener("change", settle);
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    problem.hidden = true;
    if (!title.value.trim()) {
      title.focus();
      return;
    }
    const body = { title: title.value.trim(), text: text.value, urgent: urgent.checked, confirm: confirm.checked };
    if (radios[1].checked) body.delegations = [...form.querySelectorAll("input[name=n-del]:checked")].map((x) => Number(x.value));
    if (radios[2].checked) body.deputies = [...chosenDeps.keys()];
    const n = addresseeCount(body);
    if (!n) {
      fill(problem, t(radios[1].checked ? "notice.pickSomeDelegation" : "notice.pickSomeDeputy"));
      problem.hidden = false;
      return;
    }
    pending = body;
    fill(confirmText, t("notice.confirmSend", { n }));
    send.hidden = true;
    confirmBox.hidden = false;
    yes.focus();
  });
  no.addEventListener("click", () => {
    settle();
    send.focus();
  });
  yes.addEventListener("click", () => {
    const body = pending;
    if (!body) return;
    busy(yes, async () => {
      const n = await post(`/api/meetings/${ctx.meetingId}/notices`, body);
      settle();
      flash(t("notice.sentOk"));
      form.reset();
      chosenDeps.clear();
      drawDeps();
      sync();
      addNotice(n);
    });
  });
  fill(document.querySelector("#compose .body"), form);
}

/** How many deputies a notice body reaches: the same rule as the server (a deputy in a
 * ticked delegation and ticked by name counts once; no lists means the whole meeting). */
function addresseeCount(body) {
  const deputies = ctx.dir.deputies;
  if (!body.delegations && !body.deputies) return deputies.length;
  const dels = new Set(body.delegations || []);
  const people = new Set(body.deputies || []);
  return deputies.filter((u) => dels.has(u.delegation_id) || people.has(u.id)).length;
}

// -- the list --------------------------------------------------------------------------

function audienceText(n) {
  const a = n.audience || {};
  if (a.meeting) return t("notice.toMeeting");
  const parts = [];
  for (const d of a.delegations || []) parts.push(ctx.dir.delegations.get(d) || String(d));
  for (const u of a.deputies || []) parts.push(ctx.dir.byId.get(u)?.name || String(u));
  return parts.join("、");
}

function renderAll() {
  const items = [...state.values()].sort((a, b) => b.notice.id - a.notice.id);
  for (const s of items) if (!s.li) build(s);
  fill(list, items.length ? items.map((s) => s.li) : el("li", { class: "meta" }, t("notice.none")));
  for (const s of items) update(s);
}

function build(s) {
  const n = s.notice;
  const num = (cls, key) => el("div", { class: cls }, el("b", {}, "0"), el("span", {}, t(key)));
  const follow = el("button", { type: "button", class: "follow-up", "aria-haspopup": "dialog" }, t("notice.followUp"));
  const repushMissing = el("button", { type: "button", class: "repush" }, t("notice.repush"));
  const repushUnread = el("button", { type: "button", class: "repush-unread" }, t("notice.repushUnread"));
  const correct = el("button", { type: "button", class: "correct", "aria-haspopup": "dialog" }, t("notice.correctBtn"));
  const withdraw = el("button", { type: "button", class: "withdraw danger", "aria-haspopup": "dialog" }, t("notice.withdrawBtn"));
  follow.addEventListener("click", () => openFollowUp(s, follow));
  correct.addEventListener("click", () => openChange(s, "correct", correct));
  withdraw.addEventListener("click", () => openChange(s, "withdraw", withdraw));
  repushMissing.addEventListener("click", () => repush(s, "missing", repushMissing));
  repushUnread.addEventListener("click", () => repush(s, "unread", repushUnread));
  s.li = el(
    "li",
    { class: "notice-sent", "data-notice": n.id },
    el(
      "div",
      { class: "row" },
      n.urgent ? chip(t("notice.urgent"), "urgent") : null,
      n.confirm ? chip(t("notice.confirmRequired"), "info") : null,
      el("strong", { class: "grow notice-title" }, n.title),
      el("span", { class: "changed" }),
    ),
    el("div", { class: "meta" }, `${when(n.created_at)} · ${audienceText(n)} · `, el("span", { class: "recipients" })),
    el("p", { class: "change-reason meta", hidden: true }),
    el("div", { class: "tally", "aria-live": "polite" }, num("t-delivered", "notice.delivered"), num("t-read read", "notice.readCount"), num("t-missing missing", "notice.missing")),
    el("div", { class: "bar", "aria-hidden": "true" }, el("span", { class: "b-read" }), el("span", { class: "b-delivered" })),
    el("p", { class: "follow-counts meta" }),
    el("p", { class: "reach-line meta", "aria-live": "polite", hidden: true }),
    el("div", { class: "row" }, follow, repushMissing, repushUnread, correct, withdraw, el("span", { class: "repush-note meta", "aria-live": "polite" })),
  );
}

/** How the notice stands on its card: its title, 已更正 / 已撤回 with the time and reason. */
function showStanding(s) {
  const n = s.notice;
  const q = (sel) => s.li.querySelector(sel);
  const withdrawn = n.status === "withdrawn";
  q(".notice-title").textContent = n.title;
  fill(q(".changed"), n.status && n.status !== "sent" ? chip(t(withdrawn ? "notice.withdrawnAt" : "notice.correctedAt", { time: when(n.changed_at) }), withdrawn ? "bad" : "warn") : null);
  q(".change-reason").hidden = !n.reason;
  q(".change-reason").textContent = n.reason ? t(withdrawn ? "notice.withdrawnReason" : "notice.correctReason", { reason: n.reason }) : "";
  s.li.dataset.status = n.status || "sent";
  for (const sel of [".correct", ".withdraw"]) q(sel).hidden = withdrawn;
}

/** The counts a card shows; the unread are those it reached who have not read it (a read
 * counts as delivered, so that is delivered − read, as the server's follow-up counts). */
function update(s) {
  if (!s.li) return;
  const c = s.counts;
  const q = (sel) => s.li.querySelector(sel);
  q(".t-delivered b").textContent = String(c.delivered);
  q(".t-read b").textContent = String(c.read);
  q(".t-missing b").textContent = String(c.missing);
  q(".recipients").textContent = t("notice.recipients", { n: c.addressees });
  const pct = (x) => (c.addressees ? `${(100 * x) / c.addressees}%` : "0");
  q(".b-read").style.width = pct(c.read);
  q(".b-delivered").style.width = pct(c.delivered - c.read);
  const unread = c.delivered - c.read;
  q(".follow-counts").textContent = c.missing || unread ? t("notice.followCounts", { missing: c.missing, unread }) : t("notice.allRead");
  showStanding(s);
  const withdrawn = s.notice.status === "withdrawn";
  q(".repush").disabled = withdrawn || c.missing === 0;
  q(".repush-unread").disabled = withdrawn || unread === 0;
  s.li.dataset.delivered = String(c.delivered);
  s.li.dataset.read = String(c.read);
}

/** Re-read the notice's exact tally for its reach line, at most once a second. */
function scheduleReach(s) {
  if (s.reachTimer) return;
  s.reachTimer = setTimeout(async () => {
    s.reachTimer = null;
    try {
      showReach(s, await get(`/api/notices/${s.notice.id}/tally`));
    } catch {
      // the next attempt's message tries again
    }
  }, 1000);
}

/** "已推送 5 · 短信 3 · 未达 1" on the card: what was actually done, per channel. */
function showReach(s, tally) {
  const line = s.li?.querySelector(".reach-line");
  if (!line) return;
  const text = reachLine(tally);
  line.hidden = !text;
  line.textContent = text || "";
}

// -- the follow-up ---------------------------------------------------------------------

/** The follow-up of one notice in a dialog (one at a time), read from the server. */
function openFollowUp(s, opener) {
  closeFollowUp();
  const body = el("div", { class: "fu-body", "aria-live": "polite" }, el("p", { class: "meta" }, t("common.loading")));
  const close = el("button", { type: "button", class: "ghost fu-close" }, t("common.close"));
  const dialog = el(
    "dialog",
    { class: "card", id: "followup", "aria-labelledby": "fu-title", "data-notice": s.notice.id },
    el(
      "div",
      { class: "row spread" },
      el("h2", { id: "fu-title", class: "grow" }, t("notice.followTitle", { title: s.notice.title }), " ", el("span", { class: "fu-status" })),
      close,
    ),
    body,
  );
  close.addEventListener("click", () => dialog.close());
  dialog.addEventListener("close", () => {
    if (open?.dialog === dialog) {
      clearTimeout(open.timer);
      open = null;
    }
    dialog.remove();
    opener.focus();
  });
  document.body.append(dialog);
  dialog.showModal();
  open = { s, dialog, body, timer: null };
  loadFollowUp();
}

function closeFollowUp() {
  open?.dialog.close();
}

function scheduleFollowUp() {
  if (!open || open.timer) return;
  open.timer = setTimeout(() => {
    if (!open) return;
    open.timer = null;
    loadFollowUp();
  }, 1000);
}

async function loadFollowUp() {
  const shown = open;
  const id = shown.s.notice.id;
  let f, tally;
  try {
    // the follow-up with its call list, and the exact tally with each person's channels
    [f, tally] = await Promise.all([get(`/api/notices/${id}/calls`), get(`/api/notices/${id}/tally`)]);
  } catch {
    return;
  }
  const channels = new Map(tally.people.map((p) => [p.id, p.channels]));
  f.calls = f.calls.map((c) => ({ ...c, channels: channels.get(c.id) }));
  f.reachLine = reachLine(tally);
  if (open !== shown) return;
  const s = shown.s;
  s.counts = { addressees: f.addressees, delivered: f.delivered, read: f.read, missing: f.missing };
  update(s);
  showReach(s, tally);
  const st = shown.dialog.querySelector(".fu-status");
  fill(st, f.status !== "sent" ? chip(t(f.status === "withdrawn" ? "notice.withdrawn" : "notice.corrected"), f.status === "withdrawn" ? "bad" : "warn") : null);
  const list = callList(f);
  fill(shown.body, list ? el("div", { class: "row fu-actions" }, list.actions) : null, followUpView(f), list?.table);
}

/** Per delegation (the most not delivered first, as the server orders them): its counts
 * and the names, one line per state. */
function followUpView(f) {
  const summary = el(
    "p",
    { class: "fu-summary" },
    el("strong", {}, t("notice.followCounts", { missing: f.missing, unread: f.unread })),
    ` · ${t("notice.followSummary", { n: f.addressees, delivered: f.delivered, read: f.read })}`,
    f.reachLine ? el("span", { class: "fu-reach" }, ` · ${f.reachLine}`) : null,
  );
  if (!f.delegations.length) return [summary, el("p", { class: "meta" }, t("notice.nobodyToFollow"))];
  const names = (people) => people.map((p) => p.name).join("、");
  return [
    summary,
    el("h3", {}, t("notice.byDelegation")),
    el(
      "ul",
      { class: "fu-groups" },
      f.delegations.map((g) =>
        el(
          "li",
          { class: "fu-group", "data-delegation": g.delegation_id ?? "none", "data-missing": g.missing, "data-unread": g.unread },
          el("strong", {}, g.delegation_name ?? t("att.noDelegation")),
          " ",
          el("span", { class: "meta" }, t("notice.groupCounts", { missing: g.missing, unread: g.unread, n: g.addressees })),
          g.missing ? el("p", { class: "fu-missing" }, t("notice.missingNames"), names(g.missing_people)) : null,
          g.unread ? el("p", { class: "fu-unread" }, t("notice.unreadLine"), names(g.unread_people)) : null,
        ),
      ),
    ),
  ];
}

const stateKey = { missing: "notice.missing", unread: "notice.unreadNames" };

/** The call list: one row per person (name, delegation, state, phone), and its actions:
 * copy as tab-separated lines (they paste into a spreadsheet as columns), and print (the
 * dialog alone). Null when nobody is left to call. */
function callList(r) {
  if (!r.calls.length) return null;
  const cols = ["notice.colName", "notice.colDelegation", "notice.colState", "notice.colPhone", "notice.colReach"];
  const cells = (c) => [c.name, c.delegation_name ?? t("att.noDelegation"), t(stateKey[c.state]), c.phone ?? t("notice.noPhone"), personReach(c.channels)];
  const text = [cols.map((k) => t(k)), ...r.calls.map(cells)].map((row) => row.join("\t")).join("\n");
  const manual = el("textarea", { class: "fu-copy-text", readonly: true, rows: 6, hidden: true, "aria-label": t("notice.callList") });
  const copy = el("button", { type: "button", class: "fu-copy" }, t("notice.copy"));
  const print = el("button", { type: "button", class: "fu-print" }, t("notice.print"));
  copy.addEventListener("click", async () => {
    try {
      await navigator.clipboard.writeText(text);
      flash(t("notice.copied", { n: r.calls.length }));
    } catch {
      // No clipboard on a page served over plain http from another machine: select it.
      manual.value = text;
      manual.hidden = false;
      manual.focus();
      manual.select();
      flash(t("notice.copyManual"));
    }
  });
  print.addEventListener("click", () => {
    document.body.classList.add("printing-followup");
    window.print();
    document.body.classList.remove("printing-followup");
  });
  const table = el(
    "section",
    { class: "fu-calls" },
    el("h3", {}, t("notice.callList")),
    el(
      "table",
      { class: "fu-call-table" },
      el("thead", {}, el("tr", {}, cols.map((k) => el("th", { scope: "col" }, t(k))))),
      el(
        "tbody",
        {},
        r.calls.map((c) => el("tr", { "data-person": c.id, "data-state": c.state }, cells(c).map((x) => el("td", {}, x)))),
      ),
    ),
    manual,
  );
  return { actions: [copy, print], table };
}

async function repush(s, who, btn) {
  await busy(btn, async () => {
    const r = await post(`/api/notices/${s.notice.id}/repush`, { who });
    const done = repushLine(r.reach);
    const note = t("notice.repushed", { n: r.repushed.length }) + (done ? ` ${done}` : "");
    s.li.querySelector(".repush-note").textContent = note;
    flash(note);
  });
}

// -- correct or withdraw -------------------------------------------------------------------

/** A dialog to correct a sent notice (its title and text as they stand, and why) or to
 * withdraw it (why); sent, every addressee receives it and the card shows how it stands. */
function openChange(s, action, opener) {
  const n = s.notice;
  const correcting = action === "correct";
  const title = el("input", { id: "nc-title", maxlength: 300, value: n.title });
  const text = el("textarea", { id: "nc-text", rows: 4 });
  text.value = n.text || "";
  const reason = el("input", { id: "nc-reason", maxlength: 2000, required: !correcting });
  const problem = el("p", { class: "form-problem", role: "alert", hidden: true });
  const send = el("button", { type: "submit", class: correcting ? "primary" : "primary danger", id: "nc-send" }, t(correcting ? "notice.correctSend" : "notice.withdrawSend"));
  const cancel = el("button", { type: "button", class: "ghost" }, t("common.close"));
  const form = el(
    "form",
    { novalidate: true },
    correcting ? [field("notice.titleField", title), field("notice.body", text)] : el("p", {}, n.title),
    field("notice.reasonField", reason),
    problem,
    el("div", { class: "row" }, send, cancel),
  );
  const dialog = el(
    "dialog",
    { class: "card", id: "notice-change", "aria-labelledby": "nc-heading", "data-notice": n.id },
    el("h2", { id: "nc-heading" }, t(correcting ? "notice.correctTitle" : "notice.withdrawTitle")),
    form,
  );
  cancel.addEventListener("click", () => dialog.close());
  dialog.addEventListener("close", () => {
    dialog.remove();
    opener.focus();
  });
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    problem.hidden = true;
    if (!correcting && !reason.value.trim()) {
      reason.focus();
      return;
    }
    const body = correcting ? { title: title.value.trim(), text: text.value, reason: reason.value.trim() || undefined } : { reason: reason.value.trim() };
    busy(send, async () => {
      s.notice = { ...s.notice, ...(await post(`/api/notices/${n.id}/${action}`, body)) };
      update(s);
      flash(t(correcting ? "notice.correctedOk" : "notice.withdrawnOk"));
      dialog.close();
    });
  });
  document.body.append(dialog);
  dialog.showModal();
  (correcting ? text : reason).focus();
}
