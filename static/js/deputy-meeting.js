// Deputy, "meeting" tab: check-in and leave per sitting, meeting documents, requests to
// speak, and deliberation opinions on an agenda item.

import { authUrl, get } from "./api.js";
import { t, timeOfDay } from "./i18n.js";
import { outbox, submit } from "./outbox.js";
import { busy, chip, draft, el, field, fill, flash, when } from "./ui.js";
import { duration, replaceSitting, sittingEnded, sittingLabel, sittingOption, windowState, windowText } from "./sittings.js";

let ctx = null;
let overview = { sittings: [], agenda: [] };
let docs = [];
const freshDocs = new Set();
const speech = new Map(); // request id -> request (mine)
const queues = new Map(); // `${sitting}:${item}` -> queue
const opinions = new Map(); // opinion id -> opinion (mine)

// My attendance per sitting, from the server (the overview carries my_status and my_leave,
// so every device agrees), then kept current by my own actions and the leave decisions on
// my inbox. sitting id -> {state: "checked_in" | "leave:<status>" | "", leave: id | null}.
const att = new Map();
const STATE = { checked_in: "checked_in", on_leave: "leave:approved", leave_pending: "leave:pending" };
function takeAttendance(sittings) {
  for (const s of sittings) {
    if (s.my_status === undefined || s.my_status === null) continue;
    const refused = s.my_status === "absent" && s.my_leave?.status === "refused";
    att.set(s.id, { state: STATE[s.my_status] || (refused ? "leave:refused" : ""), leave: s.my_leave?.id ?? null });
  }
}
function setAtt(sittingId, state, leave = null) {
  const was = att.get(sittingId);
  att.set(sittingId, { state, leave: leave ?? was?.leave ?? null });
}
/** A leave decision from my inbox, unless it is older than what the page knows. */
function leaveDecided(leave) {
  const was = att.get(leave.sitting_id);
  if (was && (was.state === "checked_in" || (was.leave !== null && was.leave > leave.id))) return false;
  setAtt(leave.sitting_id, `leave:${leave.status}`, leave.id);
  return true;
}
/** After a refusal (another device acted first): the server's view again. */
async function reloadAttendance() {
  overview = await get(`/api/meetings/${ctx.meetingId}`);
  takeAttendance(overview.sittings);
  drawAttendance();
}

export async function mount(c) {
  ctx = c;
  if (ctx.meetingId === null) {
    for (const id of ["attendance", "documents", "speak", "opinion"]) fill(document.querySelector(`#${id} .body`), el("p", { class: "meta" }, t("shell.noMeeting")));
    return;
  }
  const [ov, d, o] = await Promise.all([
    get(`/api/meetings/${ctx.meetingId}`),
    get(`/api/meetings/${ctx.meetingId}/documents`, { quiet: true }).catch(() => ({ documents: [] })),
    get(`/api/opinions?meeting_id=${ctx.meetingId}&limit=500`, { quiet: true }).catch(() => ({ opinions: [] })),
  ]);
  overview = ov;
  takeAttendance(overview.sittings);
  document.getElementById("meeting-title").textContent = overview.meeting.title;
  drawAttendance();
  drawSpeak();
  drawOpinionForm();
  docs = d.documents;
  drawDocs();
  for (const x of o.opinions) opinions.set(x.id, x);
  drawOpinions();
  await loadMySpeech();
}

// What the hub answered to this part's writes, sent now or later from the outbox (also
// those made before a reload): shown as the answer says.
outbox.addEventListener("sent", (ev) => {
  const { entry, data } = ev.detail;
  if (!ctx) return;
  const sitting = /^\/api\/sittings\/(\d+)\/(checkin|leave|speakers)$/.exec(entry.path);
  if (sitting?.[2] === "checkin") {
    setAtt(Number(sitting[1]), "checked_in");
    drawAttendance();
  } else if (sitting?.[2] === "leave") {
    setAtt(Number(sitting[1]), "leave:pending", data.id);
    drawAttendance();
  } else if (sitting || /^\/api\/speakers\/\d+\/withdraw$/.test(entry.path)) {
    speech.set(data.id, data);
    drawMySpeech();
  }
});
// A check-in or leave refused (409: another device acted first): the server's view.
outbox.addEventListener("refused", (ev) => {
  if (ctx && ev.detail.error.status === 409 && /^\/api\/sittings\//.test(ev.detail.entry.path)) reloadAttendance().catch(() => {});
});

export function onMessage(m) {
  if (!ctx || ctx.meetingId === null) return;
  const b = m.body || {};
  if (m.channel === `meeting:${ctx.meetingId}`) {
    if (m.kind === "sitting.created" && !overview.sittings.some((s) => s.id === b.sitting.id)) {
      overview.sittings.push(b.sitting);
      overview.sittings.sort((x, y) => x.starts_at.localeCompare(y.starts_at) || x.id - y.id);
      drawAttendance();
      drawSpeak();
    } else if ((m.kind === "sitting.closed" || m.kind === "sitting.edited") && b.sitting && replaceSitting(overview.sittings, b.sitting)) {
      drawAttendance();
      drawSpeak();
    } else if (m.kind === "agenda.changed" && overview.agenda.some((a) => a.id === b.agenda_item.id)) {
      overview.agenda = overview.agenda.map((a) => (a.id === b.agenda_item.id ? b.agenda_item : a));
      overview.agenda.sort((x, y) => x.position - y.position || x.id - y.id);
      drawSpeak();
      drawOpinionForm();
    } else if (m.kind === "agenda.created" && !overview.agenda.some((a) => a.id === b.agenda_item.id)) {
      overview.agenda.push(b.agenda_item);
      overview.agenda.sort((x, y) => x.position - y.position || x.id - y.id);
      drawSpeak();
      drawOpinionForm();
    } else if (m.kind === "document.added" && !docs.some((x) => x.id === b.document.id)) {
      docs.push(b.document);
      if (!m.cached) freshDocs.add(b.document.id);
      drawDocs();
    }
  } else if (m.channel === `deputy:${ctx.me.id}`) {
    if (m.kind === "attendance.leave_decided" && b.leave) {
      if (leaveDecided(b.leave)) drawAttendance();
    } else if (m.kind.startsWith("opinion.") && b.opinion) {
      opinions.set(b.opinion.id, b.opinion);
      drawOpinions();
    } else if (m.kind === "item.handed_over" && b.event?.payload?.opinion_ids) {
      if (committed(opinions, b.event.payload.opinion_ids, b.item.id)) drawOpinions();
    }
  } else if (m.channel === `delegation:${ctx.me.delegation_id}` && m.kind.startsWith("speaker")) {
    queues.set(`${b.sitting}:${b.agenda_item}`, b.queue || []);
    if (b.request && b.request.deputy.id === ctx.me.id) speech.set(b.request.id, b.request);
    for (const q of b.queue || []) if (q.deputy.id === ctx.me.id) speech.set(q.id, q);
    drawMySpeech();
  }
}

// -- attendance ------------------------------------------------------------------------

function mySittings() {
  return overview.sittings.filter((s) => s.kind === "plenary" || s.delegation_id === ctx.me.delegation_id);
}


let windowTimer = null;
const typed = new Map(); // sitting id -> the check-in code being typed
/** Draw again when a sitting's check-in window opens or closes, or the sitting ends. */
function redrawAtNextEdge(list) {
  clearTimeout(windowTimer);
  const now = Date.now();
  const next = Math.min(...list.flatMap((s) => [s.checkin_opens_at, s.checkin_closes_at, s.ends_at]).map((x) => (x ? Date.parse(x) : NaN)).filter((x) => x > now));
  if (Number.isFinite(next) && next - now < 2 ** 31 - 1) windowTimer = setTimeout(() => (drawAttendance(), drawMySpeech()), next - now + 1000);
}

function drawAttendance() {
  const box = document.querySelector("#attendance .body");
  const list = mySittings();
  redrawAtNextEdge(list);
  if (!list.length) return fill(box, el("p", { class: "meta" }, t("att.none")));
  fill(
    box,
    el(
      "ul",
      { class: "list", id: "my-sittings" },
      list.map((s) => {
        const mine = att.get(s.id)?.state || "";
        // Ended (closed by the secretariat, or past its end): no more check-in or leave,
        // and without either the deputy was absent.
        const ended = sittingEnded(s);
        const stateChip =
          mine === "checked_in"
            ? chip(t("att.checkedIn"), "ok")
            : mine === "leave:pending"
              ? chip(t("att.leavePending"), "warn")
              : mine === "leave:approved"
                ? chip(t("att.onLeave"), "info")
                : mine === "leave:refused"
                  ? chip(t("att.leaveRefused"), "bad")
                  : ended
                    ? chip(t("att.absent"), "bad")
                    : chip(t("att.notYet"), "warn"); // open: not checked in *yet*, never absent
        // Check-in within the sitting's window only, with the code shown in the hall when
        // the sitting asks for one (the server refuses otherwise, and says why).
        const win = windowState(s);
        const codeId = `checkin-code-${s.id}`;
        const code = s.checkin_code ? el("input", { id: codeId, class: "checkin-code", inputmode: "numeric", autocomplete: "off", maxlength: 12, size: 8, placeholder: t("att.codeHint") }) : null;
        if (code) {
          code.value = typed.get(s.id) || ""; // kept across a redraw (a message, the window's edge)
          code.addEventListener("input", () => typed.set(s.id, code.value));
        }
        const checkin = el("button", { type: "button", class: "primary checkin", disabled: win === "soon" ? true : null }, t("att.checkin"));
        checkin.addEventListener("click", () => {
          if (code && !code.value.trim()) return code.focus();
          busy(checkin, async () => {
            const r = await submit("POST", `/api/sittings/${s.id}/checkin`, code ? { code: code.value.trim() } : {}, "att.checkin");
            flash(t(r.queued ? "outbox.queued" : "att.checkedIn")); // drawn by sent()
          });
        });
        const windowNote =
          win === "soon"
            ? el("div", { class: "meta window-note" }, t("att.windowSoon", { time: timeOfDay(s.checkin_opens_at) }))
            : win === "over"
              ? el("div", { class: "meta window-note" }, t("att.windowOver", { time: timeOfDay(s.checkin_closes_at) }))
              : null;
        const winText = windowText(s);
        const reasonId = `leave-reason-${s.id}`;
        const reason = el("textarea", { id: reasonId, rows: 2, maxlength: 2000 });
        const send = el("button", { type: "submit", class: "primary" }, t("common.submit"));
        const form = el("form", { class: "leave-form", hidden: true }, field("att.leaveReason", reason), send);
        form.addEventListener("submit", (ev) => {
          ev.preventDefault();
          if (!reason.value.trim()) return reason.focus();
          busy(send, async () => {
            const r = await submit("POST", `/api/sittings/${s.id}/leave`, { reason: reason.value.trim() }, "att.leave");
            flash(t(r.queued ? "outbox.queued" : "att.leaveSent")); // drawn by sent()
            reason.value = "";
            form.hidden = true;
            leave.setAttribute("aria-expanded", "false");
          });
        });
        const leave = el("button", { type: "button", class: "leave", "aria-expanded": "false", "aria-controls": reasonId }, t("att.leave"));
        leave.addEventListener("click", () => {
          form.hidden = !form.hidden;
          leave.setAttribute("aria-expanded", String(!form.hidden));
          if (!form.hidden) reason.focus();
        });
        const done = mine === "checked_in" || ended;
        const asked = mine === "leave:pending" || mine === "leave:approved";
        const canCheckIn = win !== "over";
        return el(
          "li",
          { "data-sitting": s.id, "data-state": mine || "none", "data-ended": ended ? "true" : null, "data-window": win },
          el("div", { class: "row" }, el("strong", { class: "grow" }, sittingLabel(s)), ended ? chip(t("att.closed"), "info") : null, stateChip),
          s.place ? el("div", { class: "meta" }, t("att.place", { place: s.place })) : null,
          winText && !done ? el("div", { class: "meta" }, winText) : null,
          done ? null : windowNote,
          done || !canCheckIn || !code ? null : field("att.codeLabel", code),
          done ? null : el("div", { class: "row" }, canCheckIn ? checkin : null, asked ? null : leave),
          done ? null : form,
        );
      }),
    ),
  );
}

// -- documents -------------------------------------------------------------------------

function drawDocs() {
  const box = document.querySelector("#documents .body");
  if (!docs.length) return fill(box, el("p", { class: "meta" }, t("doc.none")));
  fill(
    box,
    el(
      "ul",
      { class: "list", id: "my-docs" },
      [...docs]
        .sort((a, b) => b.id - a.id)
        .map((d) =>
          el(
            "li",
            { "data-document": d.id },
            el("div", { class: "row" }, freshDocs.has(d.id) ? chip(t("common.new"), "warn") : null, el("a", { class: "grow", href: authUrl(`/api/documents/${d.id}`), target: "_blank", rel: "noopener" }, d.title)),
            el("div", { class: "meta" }, `${d.filename} · ${t("doc.size", { n: Math.max(1, Math.round(d.size / 1024)) })} · ${when(d.created_at)}`),
          ),
        ),
    ),
  );
}

// -- speaking --------------------------------------------------------------------------

function groupSittings() {
  return overview.sittings.filter((s) => s.kind === "group" && s.delegation_id === ctx.me.delegation_id);
}

function agendaOptions(sel) {
  sel.replaceChildren(...overview.agenda.map((a) => el("option", { value: a.id }, `${a.position}. ${a.title}`)));
}

function drawSpeak() {
  const box = document.querySelector("#speak .body");
  const groups = groupSittings();
  if (!groups.length || !overview.agenda.length) {
    fill(box, el("p", { class: "meta" }, t("spk.noGroup")), el("div", { id: "my-speech" }));
    drawMySpeech();
    return;
  }
  const sSel = el("select", { id: "spk-sitting" }, groups.map((s) => el("option", { value: s.id }, sittingOption(s))));
  const iSel = el("select", { id: "spk-item" });
  agendaOptions(iSel);
  const btn = el("button", { type: "button", class: "primary", id: "spk-request" }, t("spk.request"));
  btn.addEventListener("click", () =>
    busy(btn, async () => {
      const r = await submit("POST", `/api/sittings/${sSel.value}/speakers`, { agenda_item_id: Number(iSel.value) }, "spk.request");
      if (r.queued) flash(t("outbox.queued")); // otherwise drawn by sent()
    }),
  );
  fill(box, field("att.sittings", sSel), field("spk.agenda", iSel), btn, el("div", { id: "my-speech", "aria-live": "polite" }));
  drawMySpeech();
}

async function loadMySpeech() {
  const lists = await Promise.all(
    groupSittings().map((s) => get(`/api/sittings/${s.id}/speakers`, { quiet: true }).catch(() => ({ requests: [] }))), // shown when it changes
  );
  for (const r of lists) for (const x of r.requests) if (x.deputy.id === ctx.me.id) speech.set(x.id, x);
  drawMySpeech();
}

function drawMySpeech() {
  const box = document.getElementById("my-speech");
  if (!box) return;
  const sittingOf = (x) => overview.sittings.find((s) => s.id === x.sitting_id);
  const live = (x) => (x.status === "waiting" || x.status === "speaking") && !sittingEnded(sittingOf(x) || {});
  const all = [...speech.values()].sort((a, b) => a.id - b.id);
  const mine = all.filter(live);
  const past = all.filter((x) => !live(x)).reverse();
  const agendaTitle = (id) => overview.agenda.find((a) => a.id === id)?.title || "";
  fill(
    box,
    mine.map((x) => {
      const q = queues.get(`${x.sitting_id}:${x.agenda_item_id}`);
      const place = q ? q.filter((r) => r.status === "waiting").findIndex((r) => r.id === x.id) + 1 : 0;
      const withdraw = el("button", { type: "button" }, t("spk.withdraw"));
      withdraw.addEventListener("click", () =>
        busy(withdraw, async () => {
          const r = await submit("POST", `/api/speakers/${x.id}/withdraw`, {}, "spk.withdraw");
          if (r.queued) flash(t("outbox.queued")); // otherwise drawn by sent()
        }),
      );
      return el(
        "p",
        { class: "row", "data-request": x.id, "data-status": x.status },
        x.status === "speaking" ? chip(t("spk.speaking"), "ok") : chip(place > 0 ? t("spk.requested", { n: place }) : t("spk.waiting"), "info"),
        el("span", { class: "grow" }, agendaTitle(x.agenda_item_id)),
        x.status === "waiting" ? withdraw : null,
      );
    }),
    // After the fact: whether I spoke, and for how long, or why not.
    el("h3", {}, t("spk.mine")),
    past.length
      ? el(
          "ul",
          { class: "list", id: "my-speeches" },
          past.map((x) => {
            const s = sittingOf(x);
            const [text, kind] =
              x.status === "done"
                ? [t("spk.spoke", { time: duration(x.duration_s || 0) }), "ok"]
                : x.status === "withdrawn"
                  ? [t("spk.withdrawn"), ""]
                  : [t("spk.notReached"), "warn"];
            const over = x.status === "done" && s?.speech_limit_s && x.duration_s > s.speech_limit_s;
            return el(
              "li",
              { "data-request": x.id, "data-status": x.status },
              el("div", { class: "row" }, chip(text, kind), over ? chip(t("spk.overChip"), "bad") : null, el("span", { class: "grow" }, agendaTitle(x.agenda_item_id))),
              el("div", { class: "meta" }, s ? sittingLabel(s) : "", x.started_at ? ` · ${when(x.started_at)}` : ""),
            );
          }),
        )
      : el("p", { class: "meta", id: "my-speeches-none" }, t("spk.mineNone")),
  );
}

// -- opinions --------------------------------------------------------------------------

/** Mark opinions (and those merged into them) committed to an item; true if one changed. */
export function committed(map, ids, itemId) {
  let changed = false;
  for (const o of map.values()) {
    if (ids.includes(o.id) || (o.status === "merged" && ids.includes(o.merged_into))) {
      if (o.status !== "committed") changed = true;
      map.set(o.id, { ...o, status: "committed", item_id: itemId });
    }
  }
  return changed;
}

function drawOpinionForm() {
  const box = document.querySelector("#opinion .body");
  const iSel = el("select", { id: "op-agenda" }, el("option", { value: "" }, t("op.general")));
  for (const a of overview.agenda) iSel.append(el("option", { value: a.id }, `${a.position}. ${a.title}`));
  const text = el("textarea", { id: "op-text", rows: 4, maxlength: 20000 });
  const kept = draft(text, `opinion:${ctx.meetingId}`);
  const btn = el("button", { type: "submit", class: "primary", id: "op-send" }, t("op.submit"));
  const form = el("form", { id: "op-form" }, field("op.agenda", iSel), field("op.text", text), btn);
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    if (!text.value.trim()) return text.focus();
    const body = { meeting_id: ctx.meetingId, text: text.value.trim() };
    if (iSel.value) body.agenda_item_id = Number(iSel.value);
    busy(btn, async () => {
      const r = await submit("POST", "/api/opinions", body, "op.submit");
      text.value = "";
      kept.clear();
      if (r.queued) return flash(t("outbox.queued"));
      opinions.set(r.data.id, r.data);
      flash(t("op.sent"));
      drawOpinions();
    });
  });
  const list = document.getElementById("my-opinions") || el("div", { id: "my-opinions" });
  fill(box, form, el("h3", {}, t("op.mine")), list);
  drawOpinions();
}

const OP_STATUS = { submitted: ["op.new", "info"], noted: ["op.noted", "ok"], merged: ["op.merged", ""], committed: ["op.committed", "warn"] };

function drawOpinions() {
  const box = document.getElementById("my-opinions");
  if (!box) return;
  const list = [...opinions.values()].sort((a, b) => b.id - a.id);
  const agendaTitle = (id) => overview.agenda.find((a) => a.id === id)?.title || t("op.general");
  fill(
    box,
    list.length
      ? el(
          "ul",
          { class: "list" },
          list.map((o) => {
            const [key, kind] = OP_STATUS[o.status] || [o.status, ""];
            return el(
              "li",
              { "data-opinion": o.id, "data-status": o.status },
              el("div", { class: "row" }, chip(t(key), kind), el("span", { class: "meta grow" }, `${agendaTitle(o.agenda_item_id)} · ${when(o.created_at)}`)),
              el("p", { class: "text" }, o.text),
            );
          }),
        )
      : el("p", { class: "meta" }, t("op.none")),
  );
}
