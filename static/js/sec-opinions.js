// Secretariat: the deliberation opinions of the meeting, live: note, merge into another,
// or select for a commit-to-do item (the item form in sec-items.js takes the selection).

import { get, post } from "./api.js";
import { authoritative } from "./hub-client.js";
import { t } from "./i18n.js";
import { busy, chip, el, fill, flash, when } from "./ui.js";

let ctx = null;
let list = null;
let onlyOpen = null;
let reloadTimer = null;
const opinions = new Map(); // id -> {o, fresh}

const STATUS = { submitted: ["op.new", "info"], noted: ["op.noted", "ok"], merged: ["op.merged", ""], committed: ["op.committed", "warn"] };
const OPEN = ["submitted", "noted"];

export async function mount(c) {
  ctx = c;
  list = el("ul", { class: "list", id: "opinion-list" });
  onlyOpen = el("input", { type: "checkbox", id: "op-only-open", checked: true });
  onlyOpen.addEventListener("change", draw);
  fill(document.querySelector("#opinions .body"), el("label", { class: "check" }, onlyOpen, t("op.onlyOpen")), list);
  await load(false);
  ctx.bus.addEventListener("selection", draw);
}

/** The meeting's opinions from the server; those not shown before are marked fresh. */
async function load(markNew) {
  const r = await get(`/api/opinions?meeting_id=${ctx.meetingId}&limit=500`);
  for (const o of r.opinions) {
    const had = opinions.get(o.id);
    if (had && had.o.updated_at > o.updated_at) continue;
    opinions.set(o.id, { o, fresh: had ? had.fresh : markNew });
    if (!OPEN.includes(o.status)) ctx.selection.delete(o.id);
  }
  draw();
}

export function onMessage(m) {
  if (!ctx || m.channel !== `desk:${ctx.meetingId}`) return;
  if (!authoritative(m)) {
    // A deputy's opinion (or a forged one): not taken at its word, read from the server.
    if (!m.cached && m.kind.startsWith("opinion.")) {
      // At most one re-read per 250 ms, however long a burst (a replay) goes on.
      reloadTimer ??= setTimeout(() => {
        reloadTimer = null;
        load(true).catch((e) => console.error(e));
      }, 250);
    }
    return;
  }
  if (m.kind === "item.handed_over" && m.body.event?.payload?.opinion_ids) {
    const ids = m.body.event.payload.opinion_ids;
    for (const [id, x] of opinions) {
      if (ids.includes(id) || (x.o.status === "merged" && ids.includes(x.o.merged_into))) {
        opinions.set(id, { o: { ...x.o, status: "committed", item_id: m.body.item.id }, fresh: false });
        ctx.selection.delete(id);
      }
    }
    draw();
    return;
  }
  if (!m.kind.startsWith("opinion.") || !m.body.opinion) return;
  const o = m.body.opinion;
  const had = opinions.get(o.id);
  if (had && had.o.updated_at > o.updated_at) return;
  opinions.set(o.id, { o, fresh: (had && had.fresh) || (!m.cached && m.kind === "opinion.submitted") });
  if (!OPEN.includes(o.status)) ctx.selection.delete(o.id);
  draw();
}

function agendaTitle(id) {
  return ctx.overview.agenda.find((a) => a.id === id)?.title || t("op.general");
}

function draw() {
  const all = [...opinions.values()].sort((a, b) => b.o.id - a.o.id);
  const shown = onlyOpen.checked ? all.filter((x) => OPEN.includes(x.o.status)) : all;
  const targets = all.filter((x) => OPEN.includes(x.o.status));
  fill(
    list,
    shown.length
      ? shown.map(({ o, fresh }) => {
          const [key, kind] = STATUS[o.status] || [o.status, ""];
          const open = OPEN.includes(o.status);
          const note = el("button", { type: "button", class: "op-note" }, t("op.note"));
          note.addEventListener("click", () => busy(note, () => post(`/api/opinions/${o.id}/note`).then((r) => update(r))));
          const pick = el("input", { type: "checkbox", class: "op-pick", checked: ctx.selection.has(o.id), "aria-label": `${t("op.commit")} #${o.id}` });
          pick.addEventListener("change", () => {
            if (pick.checked) ctx.selection.add(o.id);
            else ctx.selection.delete(o.id);
            ctx.bus.dispatchEvent(new Event("selection"));
          });
          const into = el("select", { class: "op-into", "aria-label": t("op.mergeInto") }, targets.filter((x) => x.o.id !== o.id).map((x) => el("option", { value: x.o.id }, `#${x.o.id} ${x.o.deputy_name}：${x.o.text.slice(0, 24)}`)));
          const merge = el("button", { type: "button", class: "op-merge" }, t("op.merge"));
          merge.addEventListener("click", () => {
            if (!into.value) return into.focus();
            busy(merge, () => post(`/api/opinions/${o.id}/merge`, { into: Number(into.value) }).then((r) => update(r)));
          });
          const commit = el("button", { type: "button", class: "op-commit primary" }, t("op.commit"));
          commit.addEventListener("click", () => {
            ctx.selection.add(o.id);
            ctx.bus.dispatchEvent(new Event("selection"));
            document.getElementById("items").scrollIntoView();
            document.getElementById("it-title")?.focus();
          });
          return el(
            "li",
            { "data-opinion": o.id, "data-status": o.status, class: fresh ? "fresh" : "" },
            el("div", { class: "row" }, open ? el("label", { class: "check" }, pick) : null, chip(t(key), kind), el("strong", {}, o.deputy_name), el("span", { class: "meta grow" }, `${agendaTitle(o.agenda_item_id)} · ${when(o.created_at)} · #${o.id}`)),
            el("p", { class: "text" }, o.text),
            o.merged_into ? el("p", { class: "meta" }, `${t("op.merged")} → #${o.merged_into}`) : null,
            o.item_id ? el("p", { class: "meta" }, `${t("op.committed")} → #${o.item_id}`) : null,
            open ? el("div", { class: "row" }, o.status === "submitted" ? note : null, commit, targets.length > 1 ? into : null, targets.length > 1 ? merge : null) : null,
          );
        })
      : el("li", { class: "meta" }, t("op.none")),
  );
}

function update(o) {
  opinions.set(o.id, { o, fresh: false });
  flash(t("common.done"));
  draw();
}

/** The opinion (for the item form): text and deputy. */
export function opinion(id) {
  return opinions.get(id)?.o;
}
