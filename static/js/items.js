// Items (commit-to-do items and suggestions) as every page shows them: a live card per
// item with its state, deadline countdown, the latest step, its timeline, and the
// actions the viewer may take now. Pages differ only in the role passed in.
//
// Every item message carries {item: summary, event}; a card is updated from it in
// place, so each step appears live on every page that shows the item. Which actions a
// card offers is the server's answer for the viewer (`item.actions`: a message is sent
// to several people and carries none, so the board reads the item once per change);
// the page keeps no copy of the lifecycle's rules. A message the
// pages may not take at its word (hub-client.js `authoritative`: on a desk, anyone's
// but the hub's and the secretariat's) only makes the board read its items again.

import { get } from "./api.js";
import { authoritative } from "./hub-client.js";
import { t } from "./i18n.js";
import { submit } from "./outbox.js";
import { chooser } from "./picker.js";
import { busy, chip, deadlineEl, deadlineText, draft, el, field, fill, flash, today, when } from "./ui.js";

export const STATE_KIND = {
  cosigning: "warn",
  submitted: "info",
  accepted: "info",
  not_accepted: "",
  assigned: "warn",
  returned: "bad",
  in_progress: "info",
  replied: "ok",
  rehandling: "bad",
  closed: "ok",
};
export const RATINGS = ["satisfied", "basically_satisfied", "unsatisfied"];
const METHODS = ["phone", "visit", "meeting", "message", "other"];

/** The actions the caller may take on `item` now, as the server listed them. */
export const allowedActions = (item) => (item.actions || []).filter((a) => a.allowed);

/** The allowed actions the item waits on the caller for (counted in badges and to-do
 * lists). */
export const owedActions = (item) => allowedActions(item).filter((a) => !NEVER_OWED.has(a.name));

/** What the caller may do when they wish, never waited on: a follow-up question, a
 * message about the item. */
const NEVER_OWED = new Set(["ask", "message"]);

/** Why the caller may not take a listed action now, in the page's language. */
export function whyNot(a, item) {
  const p = { ...(a.reason.params || {}) };
  if (p.unit_ids) p.units = p.unit_ids.map((id) => item.co_units.find((u) => u.id === id)?.name || `#${id}`).join("、");
  if (p.due) p.due = deadlineText(p.due);
  return t(`why.${a.reason.code}`, p);
}

// One request per item change, however many boards of the page show the item.
const reading = new Map(); // "id@updated_at" -> Promise of the item for the caller

/** The item as the caller sees it now, with their `actions` (a message body, sent to
 * several people, has none); the message's own item, with no actions, if the caller may
 * no longer read it (a unit the item was taken from). */
export function forMe(item) {
  const key = `${item.id}@${item.updated_at}`;
  if (!reading.has(key)) {
    reading.set(
      key,
      get(`/api/items/${item.id}`, { quiet: true }).catch(() => ({ ...item, actions: [] })),
    );
    setTimeout(() => reading.delete(key), 5000);
  }
  return reading.get(key);
}

/**
 * Units chosen with the shared chooser (picker.js): one (`multiple` false: a lead unit) or
 * several (co-units), found by name or pinyin initials. `units`: Map id -> name.
 * Returns {el, input, ids(), clear()}.
 */
export function unitChooser(units, { labelKey, id, multiple = false }) {
  return chooser({
    items: () => units,
    key: ([uid]) => uid,
    text: ([, name]) => name,
    choice: ([uid, name]) => ({ id: uid, label: name }),
    label: t(labelKey),
    placeholder: t("item.unitHint"),
    id,
    multiple,
    empty: true,
  });
}

/** A human line for one event of the timeline (`people`: deputy id -> name, to name the
 * deputy a contact was with). */
export function eventText(e, units, people) {
  const a = e.actor || {};
  // The person who acted, by name (and their unit's); the hub itself by its role.
  const unit = a.unit_name || (a.unit_id && units?.get(a.unit_id)) || "";
  const person = a.role === "system" || a.id === 0 ? "" : a.name || "";
  const who = person && unit ? t("act.by", { name: person, unit }) : person || unit || t(`role.${a.role || "system"}`);
  const p = e.payload || {};
  const bits = [t(`act.${e.action}`)];
  if (p.grade) bits.push(t(`item.grade.${p.grade}`));
  if (p.rating) bits.push(t(`rating.${p.rating}`));
  if (p.method) bits.push(t(`method.${p.method}`));
  if (e.action === "contact") bits.push(t("item.contactWith", { who: p.deputy_id ? people?.get(p.deputy_id) || t("role.deputy") : t("item.allDeputies") }));
  if (p.until) bits.push(`${t("item.extensionUntil")} ${deadlineText(p.until)}`);
  if (p.reply_due && (e.action === "hand_over" || e.action === "reassign")) bits.push(`${t("item.deadline")} ${deadlineText(p.reply_due)}`);
  if (p.lead_unit_id && units) bits.push(`${t("item.lead")} ${units.get(p.lead_unit_id) || p.lead_unit_id}`);
  if (p.due && (e.action === "due_soon" || e.action === "overdue")) bits.push(`${p.deadline ? t(`deadline.${p.deadline}`) : t("time.deadline")} ${deadlineText(p.due)}`);
  if (p.rereply_due) bits.push(`${t("item.rereplyDue")} ${deadlineText(p.rereply_due)}`);
  return { who, what: bits.join(" · "), text: p.reason || p.note || p.text || "" };
}

/** Newest first: the boards' order unless a page asks for another. */
export const byNewest = (a, b) => b.id - a.id;

/** The order of `GET /api/items?order=deadline` (docs/protocol.md): the nearest `due`
 * first, so the overdue on top, the most overdue first; then the items waiting on no
 * deadline; newest first where `due` is equal or absent. Both keys are in every item the
 * server sends, so a changed item is placed by the same rule the list came in. */
export function byDeadline(a, b) {
  const da = a.due ? Date.parse(a.due) : Infinity;
  const db = b.due ? Date.parse(b.due) : Infinity;
  return da - db || b.id - a.id; // Infinity - Infinity is NaN: on to the id
}

const ORDERS = { newest: byNewest, deadline: byDeadline };

export class ItemBoard {
  /**
   * @param {object} o
   * @param {object} o.me       the caller (/api/me)
   * @param {object} o.client   the HubClient
   * @param {HTMLElement} o.list  the <ul> that holds the cards
   * @param {Map} [o.units]     unit id -> name (assignment forms, timelines)
   * @param {(item) => boolean} [o.filter]  which items this board shows
   * @param {string} [o.emptyKey]
   * @param {"newest" | "deadline"} [o.order]  newest first, or the server's
   *   `order=deadline` (asked for in the list's query, and kept as items change)
   * @param {(item, event, m, isNew) => void} [o.onFresh]  a live message changed an item
   * @param {(item) => void} [o.onOpen]  the viewer opened an item's details
   */
  constructor({ me, client, list, units = new Map(), filter = () => true, emptyKey = "item.none", order = "newest", onFresh = null, onOpen = null }) {
    Object.assign(this, { me, client, list, units, filter, emptyKey, onFresh, onOpen });
    this.order = order;
    this.compare = ORDERS[order];
    this.cards = new Map(); // id -> {item, events, detail, open, li}
    this.query = null;
    this.listed = new Set();
    this.reloadTimer = null;
  }

  async load(query) {
    this.query = query;
    const order = this.order === "deadline" ? "&order=deadline" : "";
    const r = await get(`/api/items?${query}${order}&limit=500`);
    this.listed = new Set(r.items.map((item) => item.id)); // what the server found for the query
    for (const item of r.items) this._upsert(item, null);
    this.render();
    return r;
  }

  /** Apply a message; resolves true if it concerned an item this board shows (or may
   * show: a message not taken at its word makes the board read its items from the
   * server). The caller's actions on the item are read from the server first. */
  async apply(m) {
    const b = m.body || {};
    if (!b.item || !(m.kind.startsWith("item.") || m.kind.startsWith("suggestion."))) return false;
    if (!authoritative(m)) {
      if (m.cached || this.query === null) return false;
      // At most one re-read per 250 ms, however long a burst (a replay) goes on.
      this.reloadTimer ??= setTimeout(() => {
        this.reloadTimer = null;
        this.load(this.query).catch((e) => console.error(e));
      }, 250);
      return true;
    }
    const known = this.cards.get(b.item.id);
    const fresh = known && known.item.actions && known.item.updated_at >= b.item.updated_at;
    const item = fresh ? known.item : await forMe(b.item);
    const isNew = !this.cards.has(item.id);
    const c = this._upsert(item, b.event);
    if (!c) {
      if (!isNew) this._drawEmpty(); // it left this board
      return false;
    }
    // One card built or updated, and moved if its place changed: never the whole list.
    if (isNew) this._build(c);
    this._update(c);
    this._place(c);
    if (!m.cached) {
      c.li.classList.add("fresh");
      if (this.onFresh) this.onFresh(c.item, b.event, m, isNew);
    }
    return true;
  }

  _upsert(item, event) {
    for (const u of [item.lead_unit, ...item.co_units]) if (u && !this.units.has(u.id)) this.units.set(u.id, u.name);
    let c = this.cards.get(item.id);
    // Cached messages replayed after the list was loaded must not take it back.
    const current = c && c.item.updated_at > item.updated_at ? c.item : item;
    if (!this.filter(current)) {
      if (c) {
        c.li?.remove();
        this.cards.delete(item.id);
      }
      return null;
    }
    if (!c) {
      c = { item: current, events: [], detail: null, open: false, li: null };
      this.cards.set(item.id, c);
    } else {
      c.item = current;
    }
    if (event) {
      if (!c.events.some((e) => e.id === event.id)) c.events.push(event);
      if (!c.last || event.id >= c.last.id) c.last = event;
    }
    return c;
  }

  /** The whole list, in order (after a load). */
  render() {
    const cards = [...this.cards.values()].sort((a, b) => this.compare(a.item, b.item));
    for (const c of cards) if (!c.li) this._build(c);
    fill(this.list, cards.length ? cards.map((c) => c.li) : el("li", { class: "meta empty" }, t(this.emptyKey)));
    for (const c of cards) this._update(c);
  }

  /** Put one card where the order wants it; a card already there is not touched. */
  _place(c) {
    let next = null; // the first card that comes after c
    for (const o of this.cards.values()) {
      if (o !== c && o.li && this.compare(c.item, o.item) < 0 && (!next || this.compare(o.item, next.item) < 0)) next = o;
    }
    const ref = next ? next.li : null;
    if (c.li.parentNode === this.list && c.li.nextElementSibling === ref) return;
    this.list.querySelector(":scope > li.empty")?.remove();
    this.list.insertBefore(c.li, ref);
  }

  _drawEmpty() {
    if (!this.cards.size && !this.list.querySelector(":scope > li.empty")) fill(this.list, el("li", { class: "meta empty" }, t(this.emptyKey)));
  }

  count(pred) {
    let n = 0;
    for (const c of this.cards.values()) if (pred(c.item, c)) n++;
    return n;
  }

  /** The cards whose item matches `pred`. */
  matching(pred) {
    return [...this.cards.values()].filter((c) => pred(c.item, c));
  }

  _build(c) {
    const id = c.item.id;
    const detailId = `item-detail-${id}`;
    const toggle = el("button", { type: "button", class: "details", "aria-expanded": "false", "aria-controls": detailId }, t("item.timeline"));
    toggle.addEventListener("click", () => {
      c.open = !c.open;
      toggle.setAttribute("aria-expanded", String(c.open));
      c.li.querySelector(".item-detail").hidden = !c.open;
      if (c.open) {
        this._loadDetail(c);
        if (this.onOpen) this.onOpen(c.item);
      }
    });
    c.li = el(
      "li",
      { class: "item", "data-item": id },
      el("div", { class: "row" }, el("span", { class: "chips" }), el("strong", { class: "grow item-title" }), el("span", { class: "due" })),
      el("div", { class: "meta item-meta" }),
      el("div", { class: "last-step", "aria-live": "polite" }),
      el("div", { class: "row item-actions" }),
      el("div", { class: "action-form" }),
      el("div", { class: "row" }, toggle),
      el("div", { class: "item-detail", id: detailId, hidden: true }),
    );
  }

  _update(c) {
    const it = c.item;
    const q = (s) => c.li.querySelector(s);
    c.li.dataset.state = it.state;
    c.li.dataset.kind = it.kind;
    fill(
      q(".chips"),
      chip(t(it.kind === "commit" ? "item.commit" : "item.suggestion"), "info"),
      " ",
      el("span", { class: `chip state ${STATE_KIND[it.state] || ""}` }, t(`state.${it.state}`)),
      it.overdue ? el("span", { class: "chip bad" }, t("item.isOverdue")) : null,
      it.grade ? el("span", { class: "chip" }, t(`item.grade.${it.grade}`)) : null,
      it.closed_reason === "no_evaluation" ? el("span", { class: "chip warn no-evaluation" }, t("item.closedNoEvaluation")) : null,
      it.questions_open ? el("span", { class: "chip warn questions-open" }, t("item.questionsOpen")) : null,
    );
    q(".item-title").textContent = it.title;
    // While replied: the deputies' evaluation deadline (a unit's deadlines are `due`).
    fill(q(".due"), it.due ? deadlineEl(it.due, this.client) : it.evaluation_due ? el("span", { class: "evaluation-due" }, `${t("item.evaluationDue")} `, deadlineEl(it.evaluation_due, this.client)) : null);
    const units = [it.lead_unit ? `${t("item.lead")}：${it.lead_unit.name}` : null, it.co_units.length ? `${t("item.co")}：${it.co_units.map((u) => u.name).join("、")}` : null].filter(Boolean);
    const deputies = it.deputies.filter((d) => d.status !== "declined").map((d) => d.name);
    fill(q(".item-meta"), [...units, deputies.length ? `${t("item.deputies")}：${deputies.join("、")}` : null, `#${it.id}`].filter(Boolean).join(" · "));
    if (c.last) {
      const e = eventText(c.last, this.units, people(it));
      fill(q(".last-step"), el("span", { class: "meta" }, `${when(c.last.at)} ${e.who}：`), e.what, e.text ? el("span", { class: "text" }, ` “${e.text}”`) : null);
    }
    this._drawActions(c);
    if (c.open) this._drawDetail(c);
  }

  _drawActions(c) {
    const box = c.li.querySelector(".item-actions");
    const formBox = c.li.querySelector(".action-form");
    const acts = allowedActions(c.item).map((a) => a.name);
    if (!acts.includes(formBox.dataset.action)) {
      formBox.replaceChildren();
      delete formBox.dataset.action;
    }
    // The refused ones with their reason, one line per reason (批准延期、拒绝延期：…).
    const why = new Map();
    for (const a of c.item.actions || []) if (!a.allowed) why.set(whyNot(a, c.item), [...(why.get(whyNot(a, c.item)) || []), t(`do.${a.name}`)]);
    fill(
      box,
      why.size ? el("span", { class: "meta why-not" }, [...why].map(([text, names]) => `${names.join("、")}：${text}`).join("；")) : null,
      acts.map((a) => {
        const b = el("button", { type: "button", class: `act-${a} ${PRIMARY.has(a) ? "primary" : ""}`, "data-action": a }, t(`do.${a}`));
        b.addEventListener("click", () => {
          if (NO_INPUT.has(a)) {
            busy(b, () => this._act(c, a, {}));
            return;
          }
          if (formBox.dataset.action === a) {
            formBox.replaceChildren();
            delete formBox.dataset.action;
            return;
          }
          formBox.dataset.action = a;
          fill(formBox, this._form(c, a));
          formBox.querySelector("input, select, textarea")?.focus();
        });
        return b;
      }),
    );
  }

  async _act(c, action, body) {
    const r = await submit("POST", c.item.actions.find((a) => a.name === action).path, body, `do.${action}`);
    const formBox = c.li.querySelector(".action-form");
    formBox.replaceChildren();
    delete formBox.dataset.action;
    if (r.queued) return flash(t("outbox.queued")); // the item's message says when it is done
    const item = r.data;
    if (!item || !item.id || this._upsert(item, null)) {
      this._update(c);
      this._place(c);
    } else this._drawEmpty(); // it left this board
    flash(t("common.done"));
  }

  _form(c, action) {
    const parts = [];
    const get_ = {};
    const need = [];
    const drafts = [];
    const text = (name, key, required, rows = 3) => {
      const x = el("textarea", { name, rows, maxlength: name === "text" ? 20000 : 2000 });
      drafts.push(draft(x, `item:${c.item.id}:${action}:${name}`)); // a reply survives a reload
      parts.push(field(key, x));
      get_[name] = () => x.value.trim() || undefined;
      if (required) need.push([x, name]);
    };
    const date = (name, key, required) => {
      const x = el("input", { type: "date", name, min: today() });
      parts.push(field(key, x));
      get_[name] = () => x.value || undefined;
      if (required) need.push([x, name]);
    };
    const unitPickers = (withDeadline, withComplex) => {
      const lead = unitChooser(this.units, { labelKey: "item.lead" });
      const co = unitChooser(this.units, { labelKey: "item.co", multiple: true });
      parts.push(lead.el, co.el);
      get_.lead_unit_id = () => lead.ids()[0];
      get_.co_unit_ids = () => co.ids().filter((x) => x !== lead.ids()[0]);
      need.push([lead.input, "lead_unit_id"]);
      if (withDeadline) date("deadline", "item.deadline", false);
      if (withComplex) {
        const cx = el("input", { type: "checkbox", name: "complex" });
        parts.push(el("label", { class: "check" }, cx, t("item.complex")));
        get_.complex = () => cx.checked;
      }
    };
    switch (action) {
      case "return":
        text("reason", "item.returnReason", true);
        break;
      case "not_accept":
        text("reason", "common.reason", true);
        break;
      case "decline":
      case "refuse_extension":
        text("reason", "common.reason", false);
        break;
      case "reassign":
        unitPickers(c.item.kind === "commit", false);
        break;
      case "hand_over":
        unitPickers(false, true);
        break;
      case "co_opinion":
        text("text", "item.coOpinion", true);
        break;
      case "contact": {
        const m = el("select", { name: "method" }, METHODS.map((x) => el("option", { value: x }, t(`method.${x}`))));
        parts.push(field("item.method", m));
        get_.method = () => m.value;
        text("note", "item.contactText", true, 2);
        break;
      }
      case "confirm_contact":
      case "dispute_contact": {
        // The contacts recorded with me that wait for my word, oldest first (the default).
        const pick = el("select", { name: "contact_id" });
        parts.push(field("item.whichContact", pick));
        get_.contact_id = () => (pick.value ? Number(pick.value) : undefined);
        this._choices(c, pick, (d) =>
          d.recorded_contacts
            .filter((x) => x.waiting.includes(this.me.id))
            .map((x) => [x.id, `${when(x.at)} ${t(`method.${x.method}`)}：${x.note}`]),
        );
        if (action === "dispute_contact") text("reason", "item.disputeReason", true, 2);
        break;
      }
      case "ask":
        text("text", "item.question", true, 3);
        break;
      case "message":
        text("text", "item.messageText", true, 3);
        break;
      case "answer": {
        const pick = el("select", { name: "question_id" });
        parts.push(field("item.whichQuestion", pick));
        get_.question_id = () => (pick.value ? Number(pick.value) : undefined);
        const names = people(c.item);
        this._choices(c, pick, (d) => d.questions.filter((q) => !q.answer).map((q) => [q.id, `${names.get(q.deputy_id) || t("role.deputy")}：${q.text}`]));
        // "text" is the answer's, not the question's (the form's draft key tells them apart)
        text("text", "item.answerText", true, 4);
        break;
      }
      case "request_extension":
        date("until", "item.extensionUntil", true);
        text("reason", "common.reason", true, 2);
        break;
      case "approve_extension":
        date("until", "item.extensionUntilOptional", false);
        break;
      case "reply": {
        const g = el("select", { name: "grade" }, ["A", "B", "C", "D"].map((x) => el("option", { value: x }, t(`item.grade.${x}`))));
        parts.push(field("item.grade", g));
        get_.grade = () => g.value;
        text("text", "item.replyText", true, 5);
        break;
      }
      case "evaluate": {
        // Nothing preselected: a deputy who means to complain must not record 满意 by
        // sending the form as it opened.
        const name = `rating-${c.item.id}`;
        const choices = RATINGS.map((r) => [r, el("input", { type: "radio", name, value: r })]);
        parts.push(el("fieldset", { class: "ratings" }, el("legend", {}, t("item.evaluate")), choices.map(([r, x]) => el("label", { class: "check" }, x, t(`rating.${r}`)))));
        get_.rating = () => choices.find(([, x]) => x.checked)?.[0];
        text("reason", "item.evalReason", false, 2);
        break;
      }
      default:
        text("note", "item.note", false, 2);
    }
    const send = el("button", { type: "submit", class: "primary" }, t(`do.${action}`));
    const problem = el("p", { class: "form-problem", role: "alert", hidden: true });
    const form = el("form", { class: `form-${action}` }, parts, problem, el("div", { class: "row" }, send));
    form.addEventListener("submit", (ev) => {
      ev.preventDefault();
      problem.hidden = true;
      for (const [x, name] of need) if (!get_[name]()) return x.focus();
      const body = {};
      for (const [k, fn] of Object.entries(get_)) {
        const v = fn();
        if (v !== undefined && !(Array.isArray(v) && !v.length && k !== "co_unit_ids")) body[k] = v;
      }
      if (action === "evaluate") {
        const missing = !body.rating ? "item.pickRating" : body.rating === "unsatisfied" && !body.reason ? "item.evalReasonNeeded" : null;
        if (missing) {
          fill(problem, t(missing));
          problem.hidden = false;
          return (body.rating ? form.querySelector("textarea") : form.querySelector("input[type=radio]")).focus();
        }
      }
      busy(send, () => this._act(c, action, body).then(() => drafts.forEach((d) => d.clear())));
    });
    return form;
  }

  /** Fill `pick` with the choices `of(detail)` gives, read from the server now (the
   * contacts and questions are in the item's detail, not in its summary). */
  _choices(c, pick, of) {
    get(`/api/items/${c.item.id}`, { quiet: true }).then(
      (d) => fill(pick, of(d).map(([value, label]) => el("option", { value }, label))),
      () => {},
    );
  }

  async _loadDetail(c) {
    try {
      const [detail, ev] = await Promise.all([get(`/api/items/${c.item.id}`), get(`/api/items/${c.item.id}/events`)]);
      c.detail = detail;
      if (detail.updated_at >= c.item.updated_at) c.item = detail;
      for (const e of ev.events) if (!c.events.some((x) => x.id === e.id)) c.events.push(e);
      c.events.sort((a, b) => a.id - b.id);
    } catch {
      return;
    }
    if (this.cards.get(c.item.id) !== c) return; // it left this board meanwhile
    this._update(c);
    this._place(c);
  }

  _drawDetail(c) {
    const d = c.detail;
    const box = c.li.querySelector(".item-detail");
    const events = [...c.events].sort((a, b) => a.id - b.id);
    fill(
      box,
      d ? el("p", { class: "text item-text" }, d.text) : null,
      // How to reach the item's deputies: sent only to the units on the item.
      d && d.contacts && d.contacts.length
        ? el(
            "div",
            { class: "contacts" },
            el("strong", {}, `${t("item.contacts")}：`),
            el(
              "ul",
              { class: "people" },
              d.contacts.map((c) =>
                el(
                  "li",
                  { "data-contact": c.deputy_id },
                  `${c.name} `,
                  c.phone ? el("a", { href: `tel:${c.phone}` }, c.phone) : el("span", { class: "meta" }, t("item.noPhone")),
                  c.preferred_contact ? [" ", chip(t("item.prefers", { how: t(`contact.${c.preferred_contact}`) }), "info")] : null,
                ),
              ),
            ),
          )
        : null,
      d && d.reply_text ? el("div", { class: "reply" }, el("strong", {}, `${t("item.reply")}（${t(`item.grade.${d.grade}`)}）：`), el("p", { class: "text" }, d.reply_text)) : null,
      d && d.return_reason ? el("p", { class: "meta" }, `${t("item.returnReason")}：`, el("span", { class: "text" }, d.return_reason)) : null,
      d && d.review_reason ? el("p", { class: "meta" }, `${t("common.reason")}：`, el("span", { class: "text" }, d.review_reason)) : null,
      d && d.extension_reason ? el("p", { class: "meta" }, `${t("item.extension")}：`, el("span", { class: "text" }, d.extension_reason)) : null,
      d && d.recorded_contacts.length ? contactsBox(d) : null,
      d && d.questions.length ? questionsBox(d) : null,
      el(
        "ol",
        { class: "timeline" },
        events.map((e) => {
          const x = eventText(e, this.units, people(c.item));
          return el("li", { "data-event": e.id, "data-action": e.action }, el("span", { class: "meta" }, `${when(e.at)} · ${x.who}`), el("div", {}, x.what), x.text ? el("div", { class: "text" }, x.text) : null);
        }),
      ),
    );
  }
}

/** Deputy id -> name, of the item's deputies. */
const people = (item) => new Map(item.deputies.map((d) => [d.id, d.name]));

/** The contacts the lead unit recorded, each with what its deputies said of it. */
function contactsBox(d) {
    const names = people(d);
    const who = (id) => names.get(id) || t("role.deputy");
    return el(
      "div",
      { class: "recorded-contacts" },
      el("strong", {}, t("item.contactsTitle")),
      el(
        "ul",
        { class: "people" },
        d.recorded_contacts.map((x) =>
          el(
            "li",
            { "data-recorded-contact": x.id },
            `${when(x.at)} ${t(`method.${x.method}`)}：`,
            el("span", { class: "text" }, x.note),
            " ",
            x.feedback.map((f) => [chip(t(f.confirmed ? "item.contactConfirmed" : "item.contactDisputed", { who: who(f.deputy_id) }), f.confirmed ? "ok" : "bad"), f.reason ? el("span", { class: "text" }, ` “${f.reason}” `) : " "]),
            x.waiting.map((id) => [chip(t("item.contactWaiting", { who: who(id) }), "warn"), " "]),
          ),
        ),
      ),
    );
}

/** The deputies' follow-up questions, each with the unit's answer or "awaiting". */
function questionsBox(d) {
    const names = people(d);
    return el(
      "div",
      { class: "questions" },
      el("strong", {}, t("item.questionsTitle")),
      el(
        "ul",
        { class: "people" },
        d.questions.map((q) =>
          el(
            "li",
            { "data-question": q.id },
            el("span", { class: "meta" }, `${when(q.at)} ${names.get(q.deputy_id) || t("role.deputy")}：`),
            el("span", { class: "text" }, q.text),
            q.answer ? el("div", {}, el("span", { class: "meta" }, `${when(q.answer.at)} ${t("act.answer")}：`), el("span", { class: "text" }, q.answer.text)) : [" ", chip(t("item.waitingAnswer"), "warn")],
          ),
        ),
      ),
    );
}

const PRIMARY = new Set(["sign", "reply", "evaluate", "accept", "hand_over", "reassign", "approve_extension", "cosign", "co_opinion", "confirm_contact", "answer"]);
const NO_INPUT = new Set(["sign", "accept", "cosign"]);

