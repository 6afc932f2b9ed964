// Secretariat: create a commit-to-do item from selected opinions and hand it over; every
// item of the meeting with its live steps and the secretariat's actions (review,
// hand-over of suggestions, reassign, extensions); the overdue board.

import { get, post } from "./api.js";
import { t } from "./i18n.js";
import { ItemBoard } from "./items.js";
import { opinion } from "./sec-opinions.js";
import { busy, chip, deadlineEl, el, field, fill, flash, today } from "./ui.js";

let ctx = null;
let board = null;
let overdueList = null;
let timer = null;

export async function mount(c) {
  ctx = c;
  const list = el("ul", { class: "list", id: "item-list" });
  board = new ItemBoard({ me: ctx.me, client: ctx.client, list, units: ctx.dir.units });
  fill(document.querySelector("#items .body"), form(), el("h3", {}, t("item.all")), list);
  overdueList = el("ul", { class: "list", id: "overdue-list" });
  fill(document.querySelector("#overdue .body"), overdueList);
  await Promise.all([board.load(`meeting_id=${ctx.meetingId}`), refreshOverdue()]);
  setInterval(refreshOverdue, 60000);
}

export function onMessage(m) {
  if (!ctx || m.channel !== `desk:${ctx.meetingId}`) return;
  board.apply(m).then(
    (shown) => {
      if (!shown || m.cached) return;
      clearTimeout(timer);
      timer = setTimeout(refreshOverdue, 300);
    },
    (e) => console.error(e),
  );
}

function form() {
  const chosen = el("ul", { class: "list", id: "it-opinions" });
  const title = el("input", { id: "it-title", maxlength: 300 });
  const text = el("textarea", { id: "it-text", rows: 3 });
  const lead = el("select", { id: "it-lead" }, [...ctx.dir.units].map(([id, n]) => el("option", { value: id }, n)));
  const co = el("fieldset", { id: "it-co" }, el("legend", {}, t("item.co")), el("div", { class: "checks" }, [...ctx.dir.units].map(([id, n]) => el("label", { class: "check" }, el("input", { type: "checkbox", value: id }), n))));
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
  const f = el("form", { id: "item-form" }, el("h3", {}, t("item.fromOpinions")), chosen, field("common.title", title), field("item.textOptional", text), field("item.lead", lead), co, field("item.deadline", deadline), send);
  f.addEventListener("submit", (ev) => {
    ev.preventDefault();
    const ids = [...ctx.selection];
    if (!ids.length) return flash(t("item.pickOpinions"));
    if (!title.value.trim()) return title.focus();
    const body = {
      opinion_ids: ids,
      title: title.value.trim(),
      lead_unit_id: Number(lead.value),
      co_unit_ids: [...co.querySelectorAll("input:checked")].map((x) => Number(x.value)).filter((x) => x !== Number(lead.value)),
    };
    if (text.value.trim()) body.text = text.value.trim();
    if (deadline.value) body.deadline = deadline.value;
    busy(send, async () => {
      const item = await post("/api/items", body);
      ctx.selection.clear();
      f.reset();
      ctx.bus.dispatchEvent(new Event("selection"));
      flash(t("item.created", { id: item.id }));
    });
  });
  return f;
}

async function refreshOverdue() {
  let r;
  try {
    r = await get(`/api/items/overdue?meeting_id=${ctx.meetingId}`, { quiet: true });
  } catch {
    return;
  }
  fill(
    overdueList,
    r.items.length
      ? r.items.map((it) =>
          el(
            "li",
            { "data-item": it.id, "data-state": it.state },
            el("div", { class: "row" }, chip(t(`state.${it.state}`), "bad"), el("strong", { class: "grow" }, it.title), it.due ? deadlineEl(it.due, ctx.client) : null),
            el("div", { class: "meta" }, `${it.lead_unit ? it.lead_unit.name : ""} · #${it.id}`),
          ),
        )
      : el("li", { class: "meta" }, t("item.noOverdue")),
  );
}
