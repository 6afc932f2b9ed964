// Secretariat: create a commit-to-do item from selected opinions and hand it over; the
// meeting's items a page at a time, newest first or nearest deadline first, with the total
// the filters match and the count per state: found by words (title or text), state, kind
// and unit (chosen with the picker); each with its live steps and the secretariat's actions
// (review and hand over suggestions, reassign, extensions); the overdue board.
//
// A page costs what it shows: the board holds the pages asked for; a message about an item
// updates the one row it concerns (or puts a new matching one in its place) and recounts
// the totals, and nothing rebuilds a list. No row carries a copy of another list: units are
// chosen with the picker (items.js `unitChooser`) when a form is opened.

import { get, post } from "./api.js";
import { authoritative } from "./hub-client.js";
import { t } from "./i18n.js";
import { ItemBoard, forMe, unitChooser } from "./items.js";
import { picker, searchIn } from "./picker.js";
import { opinion } from "./sec-opinions.js";
import { busy, chip, deadlineEl, el, field, fill, flash, today } from "./ui.js";

const PAGE = 20;
const OVERDUE_PAGE = 20;
const STATES = ["cosigning", "submitted", "accepted", "not_accepted", "assigned", "returned", "in_progress", "replied", "rehandling", "closed"];
// The state filters: everything, what waits for the secretariat, what is not finished, one state.
const STATE_FILTERS = {
  all: [],
  desk: ["submitted", "accepted", "returned"],
  open: STATES.filter((s) => s !== "closed" && s !== "not_accepted"),
  ...Object.fromEntries(STATES.map((s) => [s, [s]])),
};

let ctx = null;
let board = null;
let overdue = null;
let timer = null;

export async function mount(c) {
  ctx = c;
  board = new PagedBoard(ctx);
  fill(document.querySelector("#items .body"), form(), el("h3", {}, t("item.all")), board.el);
  overdue = overdueBoard();
  fill(document.querySelector("#overdue .body"), overdue.el);
  await Promise.all([board.reload(), overdue.refresh()]);
  setInterval(() => overdue.refresh(), 60000);
}

export function onMessage(m) {
  if (!ctx || m.channel !== `desk:${ctx.meetingId}`) return;
  board.apply(m).then(
    (concerned) => {
      if (!concerned) return;
      clearTimeout(timer);
      timer = setTimeout(() => overdue.refresh(), 300);
    },
    (e) => console.error(e),
  );
}

/** Does an item carry every word (in its title, or its text when the page has it)? */
const hasWords = (it, words) => words.split(/\s+/).every((w) => !w || `${it.title} ${it.text || ""}`.includes(w));

/** The board's order as a key: rows are sorted by it, smallest first. */
function sortKey(it, order) {
  if (order === "deadline") return [it.due ? 0 : 1, it.due || "", -it.id];
  return order === "newest" ? [-it.id] : [it.id];
}

function before(a, b) {
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return a[i] < b[i];
  return false;
}

class PagedBoard extends ItemBoard {
  constructor(c) {
    const list = el("ul", { class: "list", id: "item-list" });
    super({ me: c.me, client: c.client, list, units: c.dir.units });
    this.filters = { words: "", state: "all", kind: "", unit: null, order: "newest" };
    this.total = 0;
    this.byState = {};
    this.loading = 0; // the latest list request; older answers are dropped
    this.pending = new Set(); // item ids to read again (messages not taken at their word)
    this.rereadTimer = null;
    this.totalTimer = null;
    this.el = el("div", { id: "item-board" }, this._filterBar(), (this.countEl = el("p", { class: "meta", id: "it-count", "aria-live": "polite" })), list, this._moreButton());
  }

  _filterBar() {
    const f = this.filters;
    const reload = () => this.reload().catch(() => {}); // the error is shown; the list stays
    const words = el("input", { type: "search", id: "it-q", maxlength: 100, placeholder: t("item.searchHint"), "aria-label": t("item.search") });
    let wordsTimer = null;
    words.addEventListener("input", () => {
      clearTimeout(wordsTimer);
      wordsTimer = setTimeout(() => {
        f.words = words.value.trim();
        reload();
      }, 250);
    });
    this.stateSel = el("select", { id: "it-state", "aria-label": t("common.status") }, Object.keys(STATE_FILTERS).map((k) => el("option", { value: k }, this._stateLabel(k))));
    this.stateSel.addEventListener("change", () => {
      f.state = this.stateSel.value;
      reload();
    });
    const kind = el("select", { id: "it-kind", "aria-label": t("item.kind") }, el("option", { value: "" }, t("item.anyKind")), el("option", { value: "commit" }, t("item.commit")), el("option", { value: "suggestion" }, t("item.suggestion")));
    kind.addEventListener("change", () => {
      f.kind = kind.value;
      reload();
    });
    const order = el("select", { id: "it-order", "aria-label": t("item.order") }, ["newest", "deadline"].map((o) => el("option", { value: o }, t(`item.order.${o}`))));
    order.addEventListener("change", () => {
      f.order = order.value;
      reload();
    });
    const chosen = el("span", { id: "it-unit-chosen" });
    const unit = picker({
      id: "it-unit",
      label: t("item.unitFilter"),
      placeholder: t("item.unitHint"),
      search: searchIn(
        () => this.units,
        ([, name]) => name,
        ([id, name]) => ({ id, label: name }),
      ),
      onPick: (u) => {
        f.unit = u;
        unit.clear();
        drawChosen();
        reload();
      },
    });
    const clear = () => {
      f.unit = null;
      drawChosen();
      reload();
    };
    const drawChosen = () => fill(chosen, f.unit ? [chip(f.unit.label, "info"), el("button", { type: "button", class: "link", id: "it-unit-clear", "aria-label": t("item.clearUnit"), onclick: clear }, "×")] : null);
    return el("div", { class: "row op-filters" }, words, unit.el, chosen, kind, this.stateSel, order);
  }

  _moreButton() {
    this.more = el("button", { type: "button", id: "it-more", hidden: true }, t("item.more"));
    this.more.addEventListener("click", () => busy(this.more, () => this.loadMore()));
    return this.more;
  }

  _stateLabel(key) {
    const name = key in { all: 1, desk: 1, open: 1 } ? t(`item.f.${key}`) : t(`state.${key}`);
    const states = STATE_FILTERS[key];
    const n = Object.entries(this.byState || {}).reduce((sum, [s, k]) => (!states.length || states.includes(s) ? sum + k : sum), 0);
    return t("item.withCount", { label: name, n });
  }

  path(extra = {}) {
    const f = this.filters;
    const p = new URLSearchParams({ meeting_id: ctx.meetingId, order: f.order, limit: PAGE, ...extra });
    const states = STATE_FILTERS[f.state];
    if (states.length) p.set("state", states.join(","));
    if (f.kind) p.set("kind", f.kind);
    if (f.unit) p.set("unit_id", f.unit.id);
    if (f.words) p.set("q", f.words);
    return `/api/items?${p}`;
  }

  /** The first page for the current filters, replacing the list. */
  async reload() {
    const mine = ++this.loading;
    const r = await get(this.path());
    if (mine !== this.loading) return;
    this.cards.clear();
    fill(this.list);
    for (const item of r.items) this._append(item);
    this._counted(r);
  }

  /** The next page: after the last row shown (newest first: ids below the oldest shown, so
   * new items do not shift it; nearest deadline first: by position). */
  async loadMore() {
    const mine = this.loading;
    const extra = this.filters.order === "newest" ? { before_id: Math.min(...this.cards.keys()) } : { offset: this.cards.size };
    const r = await get(this.path(extra));
    if (mine !== this.loading) return;
    for (const item of r.items) if (!this.cards.has(item.id)) this._append(item);
    this._counted(r);
  }

  _counted(r) {
    this.total = r.total;
    this.byState = r.by_state || {};
    for (const o of this.stateSel.options) {
      const label = this._stateLabel(o.value);
      if (o.textContent !== label) o.textContent = label;
    }
    const text = this.total ? t("item.count", { shown: this.cards.size, total: this.total }) : "";
    if (this.countEl.textContent !== text) this.countEl.textContent = text;
    if (!this.cards.size && !this.list.querySelector(".empty")) fill(this.list, el("li", { class: "meta empty" }, t("item.none")));
    this.more.hidden = this.cards.size >= this.total;
  }

  /** Refresh the totals (one small request after a burst), not the rows. */
  countLater() {
    clearTimeout(this.totalTimer);
    this.totalTimer = setTimeout(async () => {
      const mine = this.loading;
      try {
        const r = await get(this.path({ limit: 1 }), { quiet: true });
        if (mine === this.loading) this._counted(r);
      } catch {
        /* the next change counts again */
      }
    }, 1000);
  }

  /** Would the server list this item under the current filters? */
  matches(it) {
    const f = this.filters;
    const states = STATE_FILTERS[f.state];
    if (states.length && !states.includes(it.state)) return false;
    if (f.kind && it.kind !== f.kind) return false;
    if (f.unit && ![it.lead_unit, ...it.co_units].some((u) => u && u.id === f.unit.id)) return false;
    return hasWords(it, f.words);
  }

  /** A row of a page, after those shown (the server's order). */
  _append(item) {
    const c = this._upsert(item, null);
    this._build(c);
    this.list.append(c.li);
    this._update(c);
  }

  /** Add one row where the order puts it among the rows shown: returns its card, or null
   * when it falls past the last row shown and more are left to load. */
  _insert(item, event) {
    const key = sortKey(item, this.filters.order);
    let next = null;
    for (const li of this.list.children) {
      const c = this.cards.get(Number(li.dataset.item));
      if (c && before(key, sortKey(c.item, this.filters.order))) {
        next = li;
        break;
      }
    }
    if (!next && this.cards.size && this.cards.size < this.total) return null;
    const c = this._upsert(item, event);
    this._build(c);
    this.list.querySelector(".empty")?.remove();
    this.list.insertBefore(c.li, next);
    this._update(c);
    return c;
  }

  /** A message about an item: its row shows the item as the server has it now (the body is
   * taken as it is only from the hub and the secretariat; otherwise the item is read again),
   * or a new matching item takes its place in the order; the totals are counted again. */
  async apply(m) {
    const b = m.body || {};
    if (m.cached || !b.item || !Number.isSafeInteger(b.item.id) || !(m.kind.startsWith("item.") || m.kind.startsWith("suggestion."))) return false;
    this.countLater();
    if (!authoritative(m)) {
      this.reread(b.item.id);
      return true;
    }
    const known = this.cards.get(b.item.id);
    const fresh = known && known.item.actions && known.item.updated_at >= b.item.updated_at;
    this._show(fresh ? known.item : await forMe(b.item), b.event);
    return true;
  }

  /** Read items again by id: a burst of messages costs one request per item. */
  reread(id) {
    this.pending.add(id);
    this.rereadTimer ??= setTimeout(async () => {
      this.rereadTimer = null;
      const ids = [...this.pending];
      this.pending.clear();
      for (const i of ids) {
        let item;
        try {
          item = await get(`/api/items/${i}`, { quiet: true });
        } catch {
          continue; // no such item (a forged id): nothing to show
        }
        const c = this._show(item, null);
        if (c && c.open) this._loadDetail(c);
      }
    }, 100);
  }

  /** Update the item's row, or put it in place if it is new here and matches. */
  _show(item, event) {
    let c = this.cards.get(item.id);
    if (c) {
      this._upsert(item, event);
      this._update(c);
    } else if (this.matches(item)) {
      c = this._insert(item, event);
      if (!c) return null;
    } else return null;
    c.li.classList.add("fresh");
    return c;
  }
}

/** The commit-to-do form: the opinions chosen, a title, the lead unit and co-units (each
 * chosen with the picker), a deadline. */
function form() {
  const chosen = el("ul", { class: "list", id: "it-opinions" });
  const title = el("input", { id: "it-title", maxlength: 300 });
  const text = el("textarea", { id: "it-text", rows: 3 });
  const lead = unitChooser(ctx.dir.units, { labelKey: "item.lead", id: "it-lead" });
  const co = unitChooser(ctx.dir.units, { labelKey: "item.co", id: "it-co", multiple: true });
  const deadline = el("input", { id: "it-deadline", type: "date", min: today() });
  const send = el("button", { type: "submit", class: "primary", id: "it-send" }, t("item.assign"));
  const drawChosen = () => {
    const ids = [...ctx.selection];
    fill(
      chosen,
      ids.length
        ? ids.map((id) => {
            const o = opinion(id);
            const rm = el("button", { type: "button", class: "link" }, t("common.remove"));
            rm.addEventListener("click", () => {
              ctx.selection.delete(id);
              ctx.bus.dispatchEvent(new Event("selection"));
            });
            return el("li", { "data-opinion": id }, `#${id} ${o ? `${o.deputy_name}：${o.text.slice(0, 60)}` : ""} `, rm);
          })
        : el("li", { class: "meta" }, t("item.pickOpinions")),
    );
    const first = ids.length ? opinion(ids[0]) : null;
    if (first && !title.value) title.value = first.text.split(/[。！？\n]/)[0].slice(0, 60);
  };
  ctx.bus.addEventListener("selection", drawChosen);
  drawChosen();
  const f = el("form", { id: "item-form" }, el("h3", {}, t("item.fromOpinions")), chosen, field("common.title", title), field("item.textOptional", text), lead.el, co.el, field("item.deadline", deadline), send);
  f.addEventListener("submit", (ev) => {
    ev.preventDefault();
    const ids = [...ctx.selection];
    if (!ids.length) return flash(t("item.pickOpinions"));
    if (!title.value.trim()) return title.focus();
    const leadId = lead.ids()[0];
    if (!leadId) {
      flash(t("item.pickLead"));
      return lead.input.focus();
    }
    const body = {
      opinion_ids: ids,
      title: title.value.trim(),
      lead_unit_id: leadId,
      co_unit_ids: co.ids().filter((x) => x !== leadId),
    };
    if (text.value.trim()) body.text = text.value.trim();
    if (deadline.value) body.deadline = deadline.value;
    busy(send, async () => {
      const item = await post("/api/items", body);
      ctx.selection.clear();
      f.reset();
      lead.clear();
      co.clear();
      ctx.bus.dispatchEvent(new Event("selection"));
      flash(t("item.created", { id: item.id }));
    });
  });
  return f;
}

/** The overdue board: the most overdue first, a page of them with their total. A refresh
 * touches only the rows that changed. */
function overdueBoard() {
  const list = el("ul", { class: "list", id: "overdue-list" });
  const count = el("p", { class: "meta", id: "overdue-count" });
  const rows = new Map(); // id -> {sig, li}
  const row = (it) =>
    el(
      "li",
      { "data-item": it.id, "data-state": it.state },
      el("div", { class: "row" }, chip(t(`state.${it.state}`), "bad"), el("strong", { class: "grow" }, it.title), it.due ? deadlineEl(it.due, ctx.client) : null),
      el("div", { class: "meta" }, `${it.lead_unit ? it.lead_unit.name : ""} · #${it.id}`),
    );
  const refresh = async () => {
    let r;
    try {
      r = await get(`/api/items/overdue?meeting_id=${ctx.meetingId}&limit=${OVERDUE_PAGE}`, { quiet: true });
    } catch {
      return;
    }
    // The rows gone or changed go first; those left keep their order (the board's order is
    // by deadline and id, which an unchanged row keeps), so only the new ones are placed.
    const sig = (it) => `${it.state}|${it.due}|${it.title}|${it.lead_unit?.id}`;
    const now = new Map(r.items.map((it) => [it.id, sig(it)]));
    for (const [id, x] of rows) {
      if (now.get(id) !== x.sig) {
        x.li.remove();
        rows.delete(id);
      }
    }
    let at = null; // the row after which the next one goes
    for (const it of r.items) {
      let x = rows.get(it.id);
      if (!x) {
        x = { sig: now.get(it.id), li: row(it) };
        rows.set(it.id, x);
      }
      const want = at ? at.nextElementSibling : list.firstElementChild;
      if (want !== x.li) list.insertBefore(x.li, want);
      at = x.li;
    }
    const none = list.querySelector(".empty");
    if (!rows.size && !none) list.append(el("li", { class: "meta empty" }, t("item.noOverdue")));
    else if (rows.size && none) none.remove();
    const text = r.total > rows.size ? t("item.count", { shown: rows.size, total: r.total }) : "";
    if (count.textContent !== text) count.textContent = text;
  };
  return { el: el("div", {}, count, list), refresh };
}
