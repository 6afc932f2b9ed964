// Secretariat (the convenor): the list of speakers of a group deliberation, per agenda
// item: order the waiting list, start and end each speech. Live.

import { api, get, post } from "./api.js";
import { t } from "./i18n.js";
import { busy, chip, el, field, fill, when } from "./ui.js";
import { sittingPicker } from "./sittings.js";

let ctx = null;
let picker = null;
let itemSel = null;
let box = null;
let timer = null;

export async function mount(c) {
  ctx = c;
  box = el("div", { id: "spk-box", "aria-live": "polite" });
  itemSel = el("select", { id: "spk-item" });
  itemSel.addEventListener("change", refresh);
  picker = sittingPicker(ctx, "spk-sitting", () => refresh(), (s) => s.kind === "group");
  const drawItems = () => {
    const keep = itemSel.value;
    itemSel.replaceChildren(...ctx.overview.agenda.map((a) => el("option", { value: a.id }, `${a.position}. ${a.title}`)));
    if (keep && ctx.overview.agenda.some((a) => String(a.id) === keep)) itemSel.value = keep;
  };
  ctx.bus.addEventListener("overview", () => {
    drawItems();
    refresh();
  });
  drawItems();
  fill(document.querySelector("#speakers .body"), el("div", { class: "row" }, field("att.sittings", picker.sel), field("spk.agenda", itemSel)), box);
  picker.draw();
  refresh();
}

export function onMessage(m) {
  if (!ctx || m.cached || m.channel !== `desk:${ctx.meetingId}`) return;
  if (!m.kind.startsWith("speaker") ) return;
  if (m.body.sitting !== picker?.get()?.id || String(m.body.agenda_item) !== itemSel.value) return;
  clearTimeout(timer);
  timer = setTimeout(refresh, 150);
}

async function refresh() {
  const s = picker?.get();
  const item = Number(itemSel?.value);
  if (!s || !item) {
    fill(box, el("p", { class: "meta" }, t("spk.none")));
    return;
  }
  let r;
  try {
    r = await get(`/api/sittings/${s.id}/speakers?agenda_item_id=${item}`);
  } catch {
    return;
  }
  const speaking = r.requests.filter((x) => x.status === "speaking");
  const waiting = r.requests.filter((x) => x.status === "waiting").sort((a, b) => a.position - b.position);
  const done = r.requests.filter((x) => x.status === "done");
  const act = (label, fn, cls = "") => {
    const b = el("button", { type: "button", class: cls }, t(label));
    b.addEventListener("click", () => busy(b, fn));
    return b;
  };
  const move = (i, d) => async () => {
    const ids = waiting.map((x) => x.id);
    [ids[i], ids[i + d]] = [ids[i + d], ids[i]];
    await api("PUT", `/api/sittings/${s.id}/speakers/order`, { agenda_item_id: item, order: ids });
    refresh();
  };
  fill(
    box,
    speaking.map((x) =>
      el("div", { class: "card", "data-request": x.id, "data-status": "speaking" }, chip(t("spk.speaking"), "ok"), " ", el("strong", {}, x.deputy.name), " ", el("span", { class: "meta" }, when(x.started_at)), " ", act("spk.end", () => post(`/api/speakers/${x.id}/end`).then(refresh), "primary")),
    ),
    waiting.length || speaking.length || done.length ? null : el("p", { class: "meta" }, t("spk.none")),
    el(
      "ol",
      { class: "list", id: "spk-waiting" },
      waiting.map((x, i) =>
        el(
          "li",
          { "data-request": x.id, "data-status": "waiting" },
          el(
            "div",
            { class: "row" },
            el("span", { class: "grow" }, x.deputy.name, " ", el("span", { class: "meta" }, when(x.requested_at))),
            act("spk.start", () => post(`/api/speakers/${x.id}/start`).then(refresh), speaking.length ? "" : "primary"),
            i > 0 ? act("spk.up", move(i, -1)) : null,
            i < waiting.length - 1 ? act("spk.down", move(i, 1)) : null,
          ),
        ),
      ),
    ),
    done.length
      ? el(
          "details",
          {},
          el("summary", {}, `${t("spk.done")} (${done.length})`),
          el("ul", { class: "list" }, done.map((x) => el("li", { "data-request": x.id }, x.deputy.name, " · ", t("common.seconds", { n: Math.round(x.duration_s || 0) })))),
        )
      : null,
  );
}
