// Secretariat: the attendance board of a sitting (checked in, on leave, leave pending,
// absent, online now), live; leave requests approved or refused here.

import { get, post } from "./api.js";
import { t } from "./i18n.js";
import { busy, chip, el, field, fill, when } from "./ui.js";
import { sittingPicker } from "./sittings.js";

let ctx = null;
let picker = null;
let board = null;
let timer = null;

const STATUS = {
  checked_in: ["att.checkedIn", "ok"],
  on_leave: ["att.onLeave", "info"],
  leave_pending: ["att.leavePending", "warn"],
  absent: ["att.absent", "bad"],
};

export async function mount(c) {
  ctx = c;
  board = el("div", { id: "att-board", "aria-live": "polite" });
  picker = sittingPicker(ctx, "att-sitting", () => refresh());
  fill(document.querySelector("#attendance .body"), field("att.sittings", picker.sel), board);
  picker.draw();
  if (!ctx.overview.sittings.length) fill(board, el("p", { class: "meta" }, t("att.none")));
}

export function onMessage(m) {
  if (!ctx || m.cached || m.channel !== `desk:${ctx.meetingId}`) return;
  if (m.kind.startsWith("attendance.") || m.kind === "presence.changed") {
    clearTimeout(timer);
    timer = setTimeout(refresh, 250);
  }
}

async function refresh() {
  const s = picker?.get();
  if (!s) return;
  let r;
  try {
    r = await get(`/api/sittings/${s.id}/attendance`);
  } catch {
    return;
  }
  if (picker.get()?.id !== s.id) return;
  const c = r.counts;
  const stat = (key, n, cls) => el("div", { class: `stat ${cls}` }, el("b", {}, String(n)), el("span", {}, t(key)));
  fill(
    board,
    el(
      "div",
      { class: "stat-grid", id: "att-counts" },
      stat("att.checkedIn", c.checked_in, "a-in"),
      stat("att.onLeave", c.on_leave, "a-leave"),
      stat("att.leavePending", c.leave_pending, "a-pending"),
      stat("att.absent", c.absent, "a-absent"),
      stat("att.onlineNow", c.online, "a-online"),
    ),
    el(
      "div",
      { class: "table-wrap" },
      el(
        "table",
        {},
        el("caption", { class: "meta" }, t("att.expected", { n: r.expected })),
        el("thead", {}, el("tr", {}, el("th", { scope: "col" }, t("att.deputy")), el("th", { scope: "col" }, t("common.status")), el("th", { scope: "col" }, t("att.online")), el("th", { scope: "col" }, t("common.details")))),
        el("tbody", {}, r.deputies.map(row)),
      ),
    ),
  );
}

function row(d) {
  const [key, kind] = STATUS[d.status] || [d.status, ""];
  const details = [];
  if (d.checked_in_at) details.push(when(d.checked_in_at));
  if (d.leave) {
    details.push(el("span", { class: "text" }, `${t("att.leaveReason")}：${d.leave.reason}`));
    if (d.leave.allowed.includes("approve")) {
      const yes = el("button", { type: "button", class: "primary" }, t("att.approve"));
      const no = el("button", { type: "button" }, t("att.refuse"));
      yes.addEventListener("click", () => busy(yes, () => post(`/api/leave/${d.leave.id}/approve`, {}).then(refresh)));
      no.addEventListener("click", () => busy(no, () => post(`/api/leave/${d.leave.id}/refuse`, {}).then(refresh)));
      details.push(el("span", { class: "row" }, yes, no));
    }
  }
  return el(
    "tr",
    { "data-deputy": d.id, "data-status": d.status, "data-online": String(d.online) },
    el("td", {}, d.name),
    el("td", {}, chip(t(key), kind)),
    el("td", {}, d.online ? chip(t("att.online"), "ok") : "—"),
    el("td", {}, details.map((x) => (x instanceof Node ? x : el("div", {}, x)))),
  );
}
