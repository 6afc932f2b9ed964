// Secretariat: the deliberation opinions of the meeting, newest first, a page at a time
// with the total the filters match: find them by words (text or deputy's name), deputy,
// delegation, agenda item and status; note, merge into another (chosen with the picker),
// or select for a commit-to-do item (the item form in sec-items.js takes the selection).
//
// A page costs what it shows: the list holds at most the pages asked for, and a message
// about an opinion updates (or puts on top) the one row it concerns; nothing rebuilds it.
// A new opinion on top pushes the oldest row shown off the bottom ("more" brings it back),
// so a console left open through a sitting stays the same size.

import { get, post } from "./api.js";
import { authoritative } from "./hub-client.js";
import { t } from "./i18n.js";
import { picker, searchIn } from "./picker.js";
import { busy, chip, el, fill, flash, when } from "./ui.js";

const PAGE = 50;
const STATUS = { submitted: ["op.new", "info"], noted: ["op.noted", "ok"], merged: ["op.merged", ""], committed: ["op.committed", "warn"] };
const OPEN = ["submitted", "noted"];
const STATUS_FILTERS = { open: OPEN, all: [], submitted: ["submitted"], noted: ["noted"], merged: ["merged"], committed: ["committed"] };

let ctx = null;
let ui = null;
const rows = new Map(); // id -> {o, li}: the rows shown, newest first in the list
const filters = { words: "", status: "open", deputy: null, delegation: "", agenda: "" };
let total = 0;
let shown = PAGE; // rows the list keeps: the pages asked for
let loading = 0; // the latest list request; older answers are dropped
const pending = new Set(); // opinion ids to read again from the server
const picked = new Map(); // id -> opinion chosen for an item, shown or not
let rereadTimer = null;
let totalTimer = null;

export async function mount(c) {
  ctx = c;
  const words = el("input", { type: "search", id: "op-q", maxlength: 100, placeholder: t("op.searchHint"), "aria-label": t("op.search") });
  let wordsTimer = null;
  words.addEventListener("input", () => {
    clearTimeout(wordsTimer);
    wordsTimer = setTimeout(() => {
      filters.words = words.value.trim();
      reload().catch(() => {}); // the error is shown; the list stays as it was
    }, 250);
  });
  const status = el("select", { id: "op-status", "aria-label": t("common.status") }, Object.keys(STATUS_FILTERS).map((k) => el("option", { value: k }, t(`op.f.${k}`))));
  status.addEventListener("change", () => {
    filters.status = status.value;
    reload().catch(() => {});
  });
  const delegation = el("select", { id: "op-delegation", "aria-label": t("op.delegation") }, el("option", { value: "" }, t("op.anyDelegation")), [...ctx.dir.delegations].map(([id, n]) => el("option", { value: id }, n)));
  delegation.addEventListener("change", () => {
    filters.delegation = delegation.value;
    reload().catch(() => {});
  });
  const agenda = el("select", { id: "op-agenda", "aria-label": t("op.agenda") }, el("option", { value: "" }, t("op.anyAgenda")), ctx.overview.agenda.map((a) => el("option", { value: a.id }, `${a.position}. ${a.title}`)));
  agenda.addEventListener("change", () => {
    filters.agenda = agenda.value;
    reload().catch(() => {});
  });
  const chosen = el("span", { id: "op-deputy-chosen" });
  const deputy = picker({
    id: "op-deputy",
    label: t("op.deputy"),
    placeholder: t("op.deputyHint"),
    search: searchIn(
      () => ctx.dir.deputies,
      (d) => `${d.name} ${d.delegation_name || ""}`,
      (d) => ({ id: d.id, label: d.name, meta: d.delegation_name || "" }),
    ),
    onPick: (d) => {
      filters.deputy = d;
      deputy.clear();
      drawChosen();
      reload().catch(() => {});
    },
  });
  const drawChosen = () => {
    const d = filters.deputy;
    fill(
      chosen,
      d
        ? chip(d.label, "info")
        : null,
      d
        ? el("button", { type: "button", class: "link", id: "op-deputy-clear", "aria-label": t("op.clearDeputy"), onclick: () => { filters.deputy = null; drawChosen(); reload().catch(() => {}); } }, "×")
        : null,
    );
  };
  const count = el("p", { class: "meta", id: "op-count", "aria-live": "polite" });
  const list = el("ul", { class: "list", id: "opinion-list" });
  const more = el("button", { type: "button", id: "op-more", hidden: true }, t("op.more"));
  more.addEventListener("click", () => busy(more, loadMore));
  ui = { count, list, more };
  fill(
    document.querySelector("#opinions .body"),
    el("div", { class: "row op-filters" }, words, deputy.el, chosen, delegation, agenda, status),
    count,
    list,
    more,
  );
  await reload();
  ctx.bus.addEventListener("selection", syncPicks);
}

function query(extra = {}) {
  const p = new URLSearchParams({ meeting_id: ctx.meetingId, order: "newest", limit: PAGE, ...extra });
  const st = STATUS_FILTERS[filters.status];
  if (st.length) p.set("status", st.join(","));
  if (filters.words) p.set("q", filters.words);
  if (filters.deputy) p.set("deputy_id", filters.deputy.id);
  if (filters.delegation) p.set("delegation_id", filters.delegation);
  if (filters.agenda) p.set("agenda_item_id", filters.agenda);
  return `/api/opinions?${p}`;
}

/** The first page for the current filters, replacing the list. */
async function reload() {
  const mine = ++loading;
  const r = await get(query());
  if (mine !== loading) return;
  rows.clear();
  fill(ui.list);
  shown = PAGE;
  total = r.total;
  for (const o of r.opinions) append(o);
  drawCount();
}

/** The next page: opinions older than the oldest shown (live inserts do not shift it). */
async function loadMore() {
  const mine = loading;
  const oldest = Math.min(...rows.keys());
  const r = await get(query({ before_id: oldest }));
  if (mine !== loading) return;
  total = r.total;
  for (const o of r.opinions) if (!rows.has(o.id)) append(o);
  shown = Math.max(shown, rows.size);
  drawCount();
}

function append(o) {
  const li = row(o, false);
  rows.set(o.id, { o, li });
  ui.list.append(li);
}

function drawCount() {
  ui.count.textContent = total ? t("op.count", { shown: rows.size, total }) : "";
  if (!rows.size) fill(ui.list, el("li", { class: "meta", id: "op-none" }, t("op.none")));
  ui.more.hidden = rows.size >= total;
}

/** Does the opinion match the filters (what the server would answer)? */
function matches(o) {
  const st = STATUS_FILTERS[filters.status];
  if (st.length && !st.includes(o.status)) return false;
  if (filters.deputy && o.deputy_id !== filters.deputy.id) return false;
  if (filters.agenda && o.agenda_item_id !== Number(filters.agenda)) return false;
  if (filters.delegation && ctx.dir.byId.get(o.deputy_id)?.delegation_id !== Number(filters.delegation)) return false;
  const hay = `${o.text} ${o.deputy_name}`;
  return filters.words.split(/\s+/).every((w) => !w || hay.includes(w));
}

export function onMessage(m) {
  if (!ctx || m.cached || m.channel !== `desk:${ctx.meetingId}`) return;
  if (m.kind === "item.handed_over" && authoritative(m) && Array.isArray(m.body.event?.payload?.opinion_ids)) {
    const ids = m.body.event.payload.opinion_ids;
    for (const [id, x] of rows) {
      if (ids.includes(id) || (x.o.status === "merged" && ids.includes(x.o.merged_into))) {
        upsert({ ...x.o, status: "committed", item_id: m.body.item.id }, false);
      }
    }
    return;
  }
  if (!m.kind.startsWith("opinion.")) return;
  const id = m.body?.opinion?.id;
  if (!Number.isSafeInteger(id)) return;
  if (authoritative(m)) upsert(m.body.opinion, m.kind === "opinion.submitted");
  else reread(id); // a deputy's message (or a forged one): read the opinion from the server
}

/** Read opinions again by id: a burst of messages costs one request per opinion. */
function reread(id) {
  pending.add(id);
  rereadTimer ??= setTimeout(async () => {
    rereadTimer = null;
    const ids = [...pending];
    pending.clear();
    for (const i of ids) {
      let o;
      try {
        o = await get(`/api/opinions/${i}`, { quiet: true });
      } catch {
        continue; // no such opinion (a forged id): nothing to show
      }
      upsert(o, true);
    }
  }, 100);
}

/** Show an opinion's new state in its row, or put a new matching one on top. */
function upsert(o, live) {
  const had = rows.get(o.id);
  if (had) {
    if (had.o.updated_at > o.updated_at) return;
    const li = row(o, had.li.classList.contains("fresh"));
    had.li.replaceWith(li);
    rows.set(o.id, { o, li });
  } else if (matches(o) && (!rows.size || o.id > Math.min(...rows.keys()))) {
    // In its place, newest first: usually on top, but the opinions a burst read again
    // can come back after a newer one.
    const li = row(o, live);
    if (!rows.size) fill(ui.list);
    const next = [...ui.list.children].find((x) => Number(x.dataset.opinion) < o.id);
    ui.list.insertBefore(li, next ?? null);
    rows.set(o.id, { o, li });
    total += 1;
    trim();
    drawCount();
  } else {
    countLater(); // an opinion not shown changed: the total may have
  }
  if (!OPEN.includes(o.status) && ctx.selection.delete(o.id)) ctx.bus.dispatchEvent(new Event("selection"));
}

/** Drop the oldest rows past the pages asked for, bottom first; none while the secretariat
 * works in the oldest row (the focus inside it): the list waits until the focus leaves it. */
function trim() {
  while (rows.size > shown) {
    const last = ui.list.lastElementChild;
    const id = Number(last?.dataset.opinion);
    if (!rows.has(id) || last.contains(document.activeElement)) return;
    last.remove();
    rows.delete(id);
  }
}

/** Refresh the total (one small request after a burst), not the rows. */
function countLater() {
  clearTimeout(totalTimer);
  totalTimer = setTimeout(async () => {
    const mine = loading;
    try {
      const r = await get(query({ limit: 1 }), { quiet: true });
      if (mine === loading) {
        total = r.total;
        drawCount();
      }
    } catch {
      /* the next change counts again */
    }
  }, 1000);
}

function syncPicks() {
  for (const [id, x] of rows) {
    const box = x.li.querySelector("input.op-pick");
    if (box) box.checked = ctx.selection.has(id);
  }
}

function agendaTitle(id) {
  return ctx.overview.agenda.find((a) => a.id === id)?.title || t("op.general");
}

function row(o, fresh) {
  const [key, kind] = STATUS[o.status] || [o.status, ""];
  const open = OPEN.includes(o.status);
  const actions = open ? el("div", { class: "row op-actions" }) : null;
  if (open) {
    const note = el("button", { type: "button", class: "op-note" }, t("op.note"));
    note.addEventListener("click", () => busy(note, () => post(`/api/opinions/${o.id}/note`).then((r) => done(r))));
    const commit = el("button", { type: "button", class: "op-commit primary" }, t("op.commit"));
    commit.addEventListener("click", () => {
      picked.set(o.id, o);
      ctx.selection.add(o.id);
      ctx.bus.dispatchEvent(new Event("selection"));
      document.getElementById("items").scrollIntoView();
      document.getElementById("it-title")?.focus();
    });
    const merge = el("button", { type: "button", class: "op-merge" }, t("op.mergeInto"));
    merge.addEventListener("click", () => mergeInto(o, actions));
    fill(actions, o.status === "submitted" ? note : null, commit, merge);
  }
  const pick = open ? el("input", { type: "checkbox", class: "op-pick", checked: ctx.selection.has(o.id), "aria-label": `${t("op.commit")} #${o.id}` }) : null;
  pick?.addEventListener("change", () => {
    if (pick.checked) {
      picked.set(o.id, o);
      ctx.selection.add(o.id);
    } else ctx.selection.delete(o.id);
    ctx.bus.dispatchEvent(new Event("selection"));
  });
  return el(
    "li",
    { "data-opinion": o.id, "data-status": o.status, class: fresh ? "fresh" : "" },
    el("div", { class: "row" }, pick ? el("label", { class: "check" }, pick) : null, chip(t(key), kind), el("strong", {}, o.deputy_name), el("span", { class: "meta grow" }, `${agendaTitle(o.agenda_item_id)} · ${when(o.created_at)} · #${o.id}`)),
    el("p", { class: "text" }, o.text),
    o.merged_into ? el("p", { class: "meta" }, `${t("op.merged")} → #${o.merged_into}`) : null,
    o.item_id ? el("p", { class: "meta" }, `${t("op.committed")} → #${o.item_id}`) : null,
    actions,
  );
}

/** The merge picker in the row's actions: find the target by number, name or words. */
function mergeInto(o, actions) {
  const cancel = el("button", { type: "button", class: "link" }, t("common.close"));
  const p = picker({
    label: t("op.mergeInto"),
    placeholder: t("op.mergeHint"),
    search: async (q) => {
      const num = /^#?(\d+)$/.exec(q);
      const found = num
        ? [await get(`/api/opinions/${num[1]}`, { quiet: true }).catch(() => null)].filter((x) => x && OPEN.includes(x.status))
        : (await get(`/api/opinions?${new URLSearchParams({ meeting_id: ctx.meetingId, status: OPEN.join(","), q, order: "newest", limit: 9 })}`)).opinions;
      return found.filter((x) => x.id !== o.id).map((x) => ({ id: x.id, label: `#${x.id} ${x.deputy_name}`, meta: x.text.slice(0, 40) }));
    },
    onPick: (target) => busy(cancel, () => post(`/api/opinions/${o.id}/merge`, { into: target.id }).then((r) => done(r))),
  });
  p.el.classList.add("op-into");
  const before = [...actions.childNodes];
  cancel.addEventListener("click", () => fill(actions, before));
  fill(actions, p.el, cancel);
  p.input.focus();
}

function done(o) {
  flash(t("common.done"));
  upsert(o, false);
}

/** An opinion shown or chosen (for the item form): text and deputy. */
export function opinion(id) {
  return rows.get(id)?.o ?? picked.get(id);
}
