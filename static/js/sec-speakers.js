// Secretariat (the convenor): the list of speakers of a group deliberation, per agenda
// item: order the waiting list, start and end each speech. Live. The current speech has a
// timer against the sitting's limit (speech_limit_s, set with the sitting): the time left,
// then in red the time over; the start and end are the server's (speaker.started /
// speaker.ended in the log), the timer only shows them.

import { api, get, post } from "./api.js";
import { t } from "./i18n.js";
import { busy, chip, el, field, fill, when } from "./ui.js";
import { duration, sittingPicker } from "./sittings.js";

let ctx = null;
let picker = null;
let itemSel = null;
let box = null;
let timer = null;
let tick = null; // the speech timer's interval

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
  const limit = s.speech_limit_s || null;
  const over = (x) => limit !== null && x.duration_s > limit;
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
  clearInterval(tick);
  const clocks = [];
  fill(
    box,
    el("p", { class: "meta", id: "spk-limit" }, limit ? t("spk.limit", { time: duration(limit) }) : t("spk.noLimit")),
    speaking.map((x) => {
      const shown = el("div", { class: "spk-timer", id: "spk-timer", role: "timer", "aria-live": "off" });
      clocks.push([shown, Date.parse(x.started_at)]);
      return el(
        "div",
        { class: "card", "data-request": x.id, "data-status": "speaking" },
        el("div", { class: "row" }, chip(t("spk.speaking"), "ok"), el("strong", { class: "grow" }, x.deputy.name), el("span", { class: "meta" }, when(x.started_at))),
        shown,
        act("spk.end", () => post(`/api/speakers/${x.id}/end`).then(refresh), "primary"),
      );
    }),
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
          el("ul", { class: "list" }, done.map((x) => el("li", { "data-request": x.id }, x.deputy.name, " · ", duration(x.duration_s || 0), over(x) ? [" ", chip(t("spk.overChip"), "bad")] : null))),
        )
      : null,
  );
  // The current speech's clock: time left against the limit, then time over (red).
  const show = () => {
    for (const [node, since] of clocks) {
      const spent = (Date.now() - since) / 1000;
      const late = limit !== null && spent > limit;
      node.classList.toggle("over", late);
      node.dataset.over = late ? "true" : "false";
      node.textContent = limit === null ? duration(spent) : late ? t("spk.over", { time: duration(spent - limit) }) : t("spk.left", { time: duration(limit - spent) });
    }
  };
  show();
  if (clocks.length) tick = setInterval(show, 1000);
}
