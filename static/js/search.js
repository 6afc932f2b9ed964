// Data query (数据查询): the caller's own notices, documents, opinions, suggestions and
// items (a unit: its items and suggestions) by words, kind and state, newest first, in
// pages of 20 (GET /api/search; docs/workflows.md).

import { get } from "./api.js";
import { t } from "./i18n.js";
import { busy, chip, el, fill, when } from "./ui.js";

const PAGE = 20;
const ITEM_STATES = ["cosigning", "submitted", "accepted", "not_accepted", "assigned", "returned", "in_progress", "replied", "rehandling", "closed"];
const OP_STATUS = { submitted: "op.new", noted: "op.noted", merged: "op.merged", committed: "op.committed" };

/** The state of a result in the page's words. */
function stateText(r) {
  if (r.state === null) return null;
  if (r.type === "notice") return t(`search.${r.state}`);
  if (r.type === "opinion") return t(OP_STATUS[r.state] || "search.unknownState");
  return t(`state.${r.state}`);
}

/**
 * @param {HTMLElement} box
 * @param {string[]} types  the kinds the caller has (a unit: suggestion, item)
 */
export function mountSearch(box, types) {
  const words = el("input", { type: "search", id: "search-q", maxlength: 100, placeholder: t("search.hint"), "aria-label": t("search.words") });
  const type = el("select", { id: "search-type", "aria-label": t("search.type") }, el("option", { value: "" }, t("search.anyType")), types.map((x) => el("option", { value: x }, t(`search.type.${x}`))));
  const states = [...(types.includes("notice") ? ["unread", "read"] : []), ...ITEM_STATES, ...(types.includes("opinion") ? ["noted", "merged", "committed"] : [])];
  const state = el(
    "select",
    { id: "search-state", "aria-label": t("search.state") },
    el("option", { value: "" }, t("search.anyState")),
    states.map((s) => el("option", { value: s }, s === "unread" || s === "read" ? t(`search.${s}`) : OP_STATUS[s] && s !== "submitted" ? t(OP_STATUS[s]) : t(`state.${s}`))),
  );
  const go = el("button", { type: "submit", class: "primary", id: "search-go" }, t("common.search"));
  const total = el("p", { class: "meta", id: "search-total", "aria-live": "polite" });
  const list = el("ul", { class: "list", id: "search-results" });
  const more = el("button", { type: "button", id: "search-more", hidden: true }, t("common.more"));
  let shown = 0;
  let params = null;

  async function page(first) {
    const p = new URLSearchParams(params);
    p.set("limit", PAGE);
    p.set("offset", first ? 0 : shown);
    const r = await get(`/api/search?${p}`);
    if (first) {
      list.replaceChildren();
      shown = 0;
    }
    for (const x of r.results) {
      const st = stateText(x);
      list.append(el("li", { class: "search-result", "data-type": x.type, "data-id": x.id }, el("div", { class: "row" }, chip(t(`search.type.${x.type}`), "info"), st ? [" ", chip(st)] : null, el("span", { class: "grow" }, ` ${x.title}`)), el("div", { class: "meta" }, when(x.at))));
    }
    shown += r.results.length;
    total.textContent = t("search.found", { n: r.total });
    if (!r.total) fill(list, el("li", { class: "meta empty" }, t("search.none")));
    more.hidden = shown >= r.total;
  }

  const form = el("form", { class: "search-form", role: "search" }, el("div", { class: "row" }, words, go), el("div", { class: "row" }, type, state));
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    params = {};
    if (words.value.trim()) params.q = words.value.trim();
    if (type.value) params.type = type.value;
    if (state.value) params.state = state.value;
    busy(go, () => page(true));
  });
  more.addEventListener("click", () => busy(more, () => page(false)));
  fill(box, form, total, list, more);
}
