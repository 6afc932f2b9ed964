// Secretariat: compose a notice, and per notice the live delivered / read / missing
// tally with the missing names and a re-push.

import { get, post } from "./api.js";
import { authoritative } from "./hub-client.js";
import { t } from "./i18n.js";
import { picker, searchIn } from "./picker.js";
import { busy, chip, el, field, fill, flash, when } from "./ui.js";

const state = new Map(); // notice id -> {notice, counts, missing, truncated, open, detail, li}
let ctx = null;
let list = null;

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
      missing: null,
      truncated: false,
      open: false,
      detail: null,
    });
  }
  renderAll();
  // The names of who is missing, for the latest notices.
  const latest = [...state.values()].sort((a, b) => b.notice.id - a.notice.id).slice(0, 10);
  await Promise.all(latest.map((s) => refreshDetail(s, false)));
}

/** Show a notice just sent (from the desk or this console's own reply), once. */
function addNotice(n) {
  if (state.has(n.id)) return;
  state.set(n.id, {
    notice: n,
    counts: { addressees: n.addressees, delivered: 0, read: 0, missing: n.addressees },
    missing: null,
    truncated: false,
    open: false,
    detail: null,
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
    s.missing = m.body.missing_people;
    s.truncated = m.body.missing_truncated;
    update(s);
    if (s.open && !m.cached) scheduleDetail(s);
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
  const detailId = `notice-detail-${n.id}`;
  const toggle = el("button", { type: "button", class: "details", "aria-expanded": "false", "aria-controls": detailId }, t("common.details"));
  const repushMissing = el("button", { type: "button", class: "repush" }, t("notice.repush"));
  const repushUnread = el("button", { type: "button", class: "repush-unread" }, t("notice.repushUnread"));
  repushMissing.addEventListener("click", () => repush(s, "missing", repushMissing));
  repushUnread.addEventListener("click", () => repush(s, "unread", repushUnread));
  toggle.addEventListener("click", () => {
    s.open = !s.open;
    toggle.setAttribute("aria-expanded", String(s.open));
    s.li.querySelector(".detail").hidden = !s.open;
    if (s.open) refreshDetail(s, true);
  });
  s.li = el(
    "li",
    { class: "notice-sent", "data-notice": n.id },
    el(
      "div",
      { class: "row" },
      n.urgent ? chip(t("notice.urgent"), "urgent") : null,
      n.confirm ? chip(t("notice.confirmRequired"), "info") : null,
      el("strong", { class: "grow notice-title" }, n.title),
    ),
    el("div", { class: "meta" }, `${when(n.created_at)} · ${audienceText(n)} · `, el("span", { class: "recipients" })),
    el("div", { class: "tally", "aria-live": "polite" }, num("t-delivered", "notice.delivered"), num("t-read read", "notice.readCount"), num("t-missing missing", "notice.missing")),
    el("div", { class: "bar", "aria-hidden": "true" }, el("span", { class: "b-read" }), el("span", { class: "b-delivered" })),
    el("p", { class: "missing-names meta" }),
    el("div", { class: "row" }, toggle, repushMissing, repushUnread, el("span", { class: "repush-note meta", "aria-live": "polite" })),
    el("div", { class: "detail", id: detailId, hidden: true }),
  );
}

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
  const names = s.missing || [];
  q(".missing-names").textContent = c.missing
    ? `${t("notice.missingNames")}${names.map((p) => p.name).join("、")}${s.truncated || names.length < c.missing ? " …" : ""}`
    : t("notice.allDelivered");
  q(".repush").disabled = c.missing === 0;
  q(".repush-unread").disabled = c.read >= c.addressees;
  s.li.dataset.delivered = String(c.delivered);
  s.li.dataset.read = String(c.read);
}

const timers = new Map();
function scheduleDetail(s) {
  if (timers.has(s)) return;
  timers.set(
    s,
    setTimeout(() => {
      timers.delete(s);
      refreshDetail(s, true);
    }, 300),
  );
}

async function refreshDetail(s, draw) {
  let r;
  try {
    r = await get(`/api/notices/${s.notice.id}/tally`, { quiet: !draw });
  } catch {
    return;
  }
  s.counts = { addressees: r.addressees, delivered: r.delivered, read: r.read, missing: r.missing };
  s.missing = r.missing_people;
  s.truncated = false;
  update(s);
  if (!draw || !s.li) return;
  const stateOf = (p) => (p.read_at ? ["notice.readCount", "ok"] : p.delivered_at ? ["notice.delivered", "info"] : ["notice.missing", "bad"]);
  fill(
    s.li.querySelector(".detail"),
    r.unread_people.length
      ? el("p", { class: "meta" }, `${t("notice.unreadNames")}：${r.unread_people.map((p) => p.name).join("、")}`)
      : null,
    el(
      "ul",
      { class: "people checks" },
      r.people.map((p) => {
        const [key, kind] = stateOf(p);
        return el("li", { class: "check", "data-person": p.id }, p.name, " ", chip(t(key), kind));
      }),
    ),
  );
}

async function repush(s, who, btn) {
  await busy(btn, async () => {
    const r = await post(`/api/notices/${s.notice.id}/repush`, { who });
    const note = t("notice.repushed", { n: r.repushed.length });
    s.li.querySelector(".repush-note").textContent = note;
    flash(note);
  });
}
