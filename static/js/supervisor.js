// The supervisor's dashboard (big screen): statistics with SVG charts, kept live; archive
// search with receipts, exports; item timelines; deputies' performance files;
// registrations to review; the tamper check. Reads everything, changes only registrations;
// an admin also imports a meeting's roster here. People, delegations, units and items are
// chosen by name with the search-as-you-type picker (js/picker.js): the page never holds a
// <select> of hundreds.

import { authUrl, get, has, post } from "./api.js";
import { bars, ring } from "./charts.js";
import { lang, t } from "./i18n.js";
import { eventText } from "./items.js";
import { chooseMeeting } from "./meeting.js";
import { picker, searchIn } from "./picker.js";
import { attemptText } from "./reach.js";
import { mountRoster } from "./roster.js";
import { busy, chip, day, deadlineText, el, field, fill, flash, startPage, throttle, when } from "./ui.js";

const { me, client } = await startPage(["supervisor", "admin"], "page.supervisor");
const chosen = await chooseMeeting(me, document.getElementById("meeting-pick"));
const meetingId = chosen ? chosen.id : null;
document.getElementById("meeting-title").textContent = chosen ? chosen.overview.meeting.title : t("shell.noMeeting");
// Unit names for timelines: every unit, also those an item has left.
const units = new Map((await get("/api/units", { quiet: true }).catch(() => ({ units: [] }))).units.map((u) => [u.id, u.name]));

// -- statistics ------------------------------------------------------------------------------
//
// The figures follow the meeting live: a message that changes them (an opinion, an item's
// or a suggestion's step, a notice's tally, a check-in, a sitting closed) asks for a
// redraw, and redraws are throttled — at most one every STATS_EVERY, the first at once,
// never postponed by a steady stream of messages. Time alone changes some figures (an item
// falls overdue, a sitting reaches its scheduled end): they are redrawn every STATS_IDLE
// too. Only the figures are redrawn, never the period form above them.

const STATS_EVERY = 3000; // ms
const STATS_IDLE = 60000; // ms
const STATS_KINDS = ["item.", "suggestion.", "notice", "opinion.", "attendance.", "sitting."];

async function allItems() {
  const out = [];
  for (let offset = 0; ; offset += 500) {
    const r = await get(`/api/items?meeting_id=${meetingId}&limit=500&offset=${offset}`, { quiet: true });
    out.push(...r.items);
    if (out.length >= r.total || !r.items.length) return out;
  }
}

const statsQuery = { from: "", to: "" };
let statsAsked = 0; // the latest statistics request; an older answer is not drawn

function statsForm() {
  const from = el("input", { type: "date", id: "st-from", value: statsQuery.from });
  const to = el("input", { type: "date", id: "st-to", value: statsQuery.to });
  const go = el("button", { type: "submit", class: "primary" }, t("sup.statsRun"));
  const f = el("form", { class: "row", id: "stats-form" }, field("common.from", from), field("common.to", to), go);
  f.addEventListener("submit", (ev) => {
    ev.preventDefault();
    statsQuery.from = from.value;
    statsQuery.to = to.value;
    busy(go, drawStats);
  });
  return f;
}

/** Seconds as "3.5 小时" / "2.0 天" / "12 分". */
function span(s) {
  if (s === null || s === undefined) return "—";
  if (s < 3600) return t("time.mins", { n: Math.round(s / 60) });
  return duration(s);
}

const rateText = (r) => (r === null || r === undefined ? "—" : `${(100 * r).toFixed(1)}%`);

/** What a figure counts or leaves out, in words: the notes that are due, joined. */
const notes = (...parts) => parts.filter(Boolean).join(" · ") || null;

function attendanceNote(at) {
  return notes(
    at.sittings && !at.final ? t("stat.att.soFar", { n: at.open }) : null,
    at.sittings && at.final ? t("stat.att.final", { n: at.ended }) : null,
    at.not_started ? t("stat.att.notStarted", { n: at.not_started }) : null,
  );
}

function drawStatsShell() {
  const box = document.querySelector("#stats .body");
  if (meetingId === null) return fill(box, el("p", { class: "meta" }, t("shell.noMeeting")));
  fill(box, statsForm(), el("div", { id: "stats-figures", "aria-live": "off" }));
}

async function drawStats() {
  const box = document.getElementById("stats-figures");
  if (!box) return;
  const q = new URLSearchParams({ meeting: meetingId });
  if (statsQuery.from) q.set("from", statsQuery.from);
  if (statsQuery.to) q.set("to", statsQuery.to);
  const mine = ++statsAsked;
  let s;
  let notices;
  try {
    [s, notices] = await Promise.all([get(`/api/statistics?${q}`, { quiet: true }), get(`/api/meetings/${meetingId}/notices`, { quiet: true }).then((r) => r.notices)]);
  } catch {
    return;
  }
  if (mine !== statsAsked) return;
  const sg = s.suggestions;
  const ci = s.commit_items;
  const ev = s.evaluations;
  const nt = s.notices;
  const at = s.attendance;
  const op = s.opinions;
  const dl = s.deadlines;
  const tile = (id, n, key, note = null) => el("div", { class: "stat", id }, el("b", {}, String(n)), el("span", {}, t(key)), note ? el("small", { class: "stat-note" }, note) : null);
  const chart = (titleKey, svgEl, id) => el("div", { class: "chart", id }, el("h3", {}, t(titleKey)), svgEl);
  const none = (key) => el("p", { class: "meta" }, t(key));

  const STATES = ["cosigning", "submitted", "accepted", "assigned", "returned", "in_progress", "replied", "rehandling", "closed", "not_accepted"];
  const byState = STATES.map((x) => ({ label: t(`state.${x}`), value: s.item_states[x] || 0 })).filter((r) => r.value);
  const funnel = ["submitted", "received", "accepted", "assigned", "signed", "replied", "closed"].map((k, i) => ({ label: t(`stat.sg.${k}`), value: sg[k], color: ["#6b4c9a", "#1f5c99", "#1f5c99", "#b26b00", "#b26b00", "#2f8a4a", "#2f8a4a"][i] }));
  const commitBars = ["assigned", "signed", "replied", "closed", "same_day"].map((k) => ({ label: t(`stat.ci.${k}`), value: ci[k], color: k === "same_day" ? "#8f1d1d" : "#1f5c99" }));
  const ratings = [
    { label: t("rating.satisfied"), value: ev.satisfied, color: "#2f8a4a" },
    { label: t("rating.basically_satisfied"), value: ev.basically_satisfied, color: "#1f5c99" },
    { label: t("rating.unsatisfied"), value: ev.unsatisfied, color: "#a01414" },
  ];
  const attendance = [
    { label: t("att.checkedIn"), value: at.checked_in, color: "#2f8a4a" },
    { label: t("att.onLeave"), value: at.on_leave, color: "#1f5c99" },
    { label: t("att.absent"), value: at.absent, color: "#a01414" },
    ...(at.final ? [] : [{ label: t("att.notYet"), value: at.not_checked_in, color: "#b26b00" }]),
  ];
  const unitRows = s.units || [];

  fill(
    box,
    el(
      "div",
      { class: "stat-grid", id: "stat-tiles" },
      tile("st-suggestions", sg.submitted, "stat.suggestions", sg.cosigning ? t("stat.sgCosigning", { n: sg.cosigning }) : null),
      tile("st-commits", ci.assigned, "stat.commits"),
      tile("st-opinions", op.total, "stat.opinions", op.submitted ? t("stat.opOpen", { n: op.submitted }) : null),
      tile("st-closed", sg.closed + ci.closed, "stat.closed"),
      tile("st-sameday", ci.same_day, "stat.sameDay"),
      tile("st-overdue", s.overdue.now, "stat.overdue"),
      tile("st-satisfaction", rateText(ev.satisfaction_rate), "stat.satisfaction", notes(ev.total ? t("stat.evalCount", { n: ev.total }) : null, ev.no_evaluation ? t("stat.noEvalLeftOut", { n: ev.no_evaluation }) : null)),
      tile("st-ontime", rateText(dl.on_time_rate), "stat.onTime", notes(dl.pending ? t("stat.dlPending", { n: dl.pending }) : null, dl.superseded ? t("stat.dlSuperseded", { n: dl.superseded }) : null)),
      tile("st-notices", nt.count, "stat.notices"),
      tile("st-delivered", rateText(nt.delivery_rate), "stat.deliveryRate"),
      tile("st-read", rateText(nt.read_rate), "stat.readRate"),
      tile("st-readtime", span(nt.median_time_to_read_s), "stat.timeToRead", nt.read && nt.addressees > nt.read ? t("stat.readTimeOf", { n: nt.read }) : null),
      tile("st-attendance", rateText(at.rate), "stat.attendanceRate", attendanceNote(at)),
    ),
    el(
      "div",
      { class: "chart-grid" },
      chart("stat.sgFunnel", bars(funnel, { title: t("stat.sgFunnel") }), "chart-suggestions"),
      chart("stat.ciBars", bars(commitBars, { title: t("stat.ciBars") }), "chart-commits"),
      chart("stat.byState", byState.length ? bars(byState, { title: t("stat.byState") }) : none("item.none"), "chart-states"),
      el(
        "div",
        { class: "chart", id: "chart-evaluations" },
        el("h3", {}, t("stat.evaluations")),
        ev.total ? ring(ratings, { title: t("stat.evaluations") }) : none("stat.noEvaluations"),
        // closed without the deputies' evaluation: no rating, in no rate
        ev.no_evaluation ? el("p", { class: "meta", id: "st-no-evaluation" }, t("stat.noEvaluation", { n: ev.no_evaluation })) : null,
      ),
      el(
        "div",
        { class: "chart", id: "chart-attendance" },
        el("h3", {}, t(at.final ? "stat.attendance" : "stat.attendanceSoFar")),
        at.expected ? ring(attendance, { title: t(at.final ? "stat.attendance" : "stat.attendanceSoFar"), center: rateText(at.rate) }) : none("stat.noAttendance"),
      ),
      chart(
        "stat.noticeReads",
        notices.length
          ? bars(
              notices.slice(-8).map((n) => ({ label: n.title.slice(0, 10), value: n.addressees ? (100 * (n.read || 0)) / n.addressees : 0, color: "#2f8a4a" })),
              { title: t("stat.noticeReads"), max: 100, format: (v) => `${v.toFixed(0)}%` },
            )
          : none("notice.none"),
        "chart-notices",
      ),
    ),
    unitRows.length
      ? el(
          "div",
          { class: "table-wrap" },
          el(
            "table",
            { id: "unit-table" },
            el("caption", { class: "meta" }, t("stat.byUnit")),
            el("thead", {}, el("tr", {}, ["item.lead", "stat.u.assigned", "stat.u.signed", "stat.u.medianSign", "stat.u.replied", "stat.u.medianReply", "stat.onTime"].map((k) => el("th", { scope: "col" }, t(k))))),
            el(
              "tbody",
              {},
              unitRows.map((u) =>
                el("tr", { "data-unit": u.unit.id }, el("td", {}, u.unit.name), el("td", {}, String(u.assigned)), el("td", {}, String(u.signed)), el("td", {}, span(u.median_sign_s)), el("td", {}, String(u.replied)), el("td", {}, span(u.median_reply_s)), el("td", {}, rateText(u.on_time_rate))),
              ),
            ),
          ),
        )
      : null,
    el("p", { class: "meta", id: "st-as-of", "data-as-of": s.as_of }, t("stat.asOf", { when: whenSec(s.as_of) })),
  );
}

/** A time with its seconds: the figures change more often than once a minute. */
function whenSec(iso) {
  return new Date(iso).toLocaleString(lang(), { month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit", second: "2-digit" });
}

const refreshStats = throttle(drawStats, STATS_EVERY);

// -- archive and export ------------------------------------------------------------------------
//
// People, delegations and units are found by name (or pinyin initials) with the shared
// picker; the page sends their ids, and shows only names. A sender is chosen by clicking
// a sender in the results.

const archive = { deputy: null, delegation: null, unit: null, sender: null }; // {id, label}
const PICKED = [
  ["deputy", "arch.deputy"],
  ["delegation", "arch.delegation"],
  ["unit", "arch.unit"],
  ["sender", "arch.sender"],
];
let runArchive = () => {};
let drawPicked = () => {};

/** A labelled picker, as field() labels a control. */
function pickerField(labelKey, p) {
  return el("div", { class: "field" }, el("label", { for: p.input.id }, t(labelKey)), p.el);
}

/** Choose (or with null clear) the person, delegation or unit `name` filters by; search. */
function choose(name, choice) {
  archive[name] = choice ? { id: choice.id, label: choice.label } : null;
  drawPicked();
  runArchive();
}

function summarize(body, kind) {
  if (!body || typeof body !== "object") return String(body ?? "");
  if (kind === "reach.attempted") return attemptText(body);
  if (body.roster && typeof body.roster === "object") {
    const r = body.roster;
    const made = [...(r.created_delegations || []), ...(r.created_units || [])];
    return t("roster.logLine", { file: r.filename || "—", new: r.new, updated: r.updated, joined: r.joined }) + (made.length ? ` · ${t("roster.logCreated", { names: made.join("、") })}` : "");
  }
  const inner = [body.item, body.opinion, body.notice, body.leave, body.registration, body.document, body.sitting, body.agenda_item];
  const b = inner.find((x) => x && typeof x === "object") || body;
  const main = b.title || b.text || b.reason || "";
  return main ? String(main) : JSON.stringify(body).slice(0, 160);
}

/** A message about a notice shows that notice's figures (the tally's, from the server)
 * and whether it was corrected or withdrawn; any other message its own receipts, the
 * sender's own copy not counted (the server leaves it out). */
function receiptsText(m, rs) {
  const nt = m.notice;
  if (nt) return `${t("notice.delivered")} ${nt.delivered}/${nt.addressees} · ${t("notice.readCount")} ${nt.read}`;
  const got = rs.filter((r) => r.delivered_at || r.read_at).length;
  const readN = rs.filter((r) => r.read_at).length;
  return m.recipients ? `${t("notice.delivered")} ${got}/${m.recipients} · ${t("notice.readCount")} ${readN}` : "—";
}

function noticeStanding(m) {
  const nt = m.notice;
  if (!nt || nt.status === "sent") return null;
  const withdrawn = nt.status === "withdrawn";
  return el(
    "div",
    { class: "notice-standing", "data-status": nt.status },
    chip(t(withdrawn ? "notice.withdrawnAt" : "notice.correctedAt", { time: when(nt.changed_at) }), withdrawn ? "bad" : "warn"),
    nt.reason ? el("span", { class: "meta" }, ` ${t(withdrawn ? "notice.withdrawnReason" : "notice.correctReason", { reason: nt.reason })}`) : null,
  );
}

function archiveRow(m) {
  const rs = m.receipts || [];
  const who = el("button", { type: "button", class: "link", title: t("arch.onlySender", { name: m.sender.name }) }, m.sender.name);
  who.addEventListener("click", () => choose("sender", { id: m.sender.id, label: m.sender.name }));
  return el(
    "tr",
    { "data-message": m.id },
    el("td", {}, when(m.ts)),
    el("td", {}, `${m.channel} #${m.seq}`),
    el("td", {}, m.kind),
    // Who really sent it: the hub stamps the sender from the account that stored it, never
    // from the body; role `system` is the hub itself.
    el("td", { class: "sender", "data-sender": m.sender.id, "data-role": m.sender.role }, who, el("span", { class: "meta" }, ` · ${t(`role.${m.sender.role}`)} #${m.sender.id}`)),
    el("td", { class: "text" }, summarize(m.body, m.kind), noticeStanding(m)),
    el(
      "td",
      { class: "receipts" },
      receiptsText(m, rs),
      rs.length
        ? el(
            "details",
            {},
            el("summary", {}, t("common.details")),
            el("ul", { class: "people" }, rs.map((r) => el("li", {}, r.user.name, " ", r.read_at ? chip(`${t("notice.readCount")} ${when(r.read_at)}`, "ok") : r.delivered_at ? chip(`${t("notice.delivered")} ${when(r.delivered_at)}`, "info") : chip(t("notice.missing"), "bad")))),
          )
        : null,
    ),
  );
}

function drawArchive(dir) {
  const box = document.querySelector("#archive .body");
  const kind = el("input", { name: "kind", type: "text", id: "ar-kind" });
  const channel = el(
    "select",
    { name: "channel", id: "ar-channel" },
    el("option", { value: "" }, t("arch.anyChannel")),
    meetingId !== null ? [el("option", { value: `meeting:${meetingId}` }, t("arch.meetingChannel")), el("option", { value: `desk:${meetingId}` }, t("arch.deskChannel"))] : null,
  );
  const since = el("input", { name: "since", type: "date", id: "ar-since" });
  const until = el("input", { name: "until", type: "date", id: "ar-until" });
  const text = el("input", { name: "q", type: "search", id: "ar-q" });
  const plain = { kind, channel, since, until, q: text };
  const deputy = picker({
    id: "ar-deputy",
    label: t("arch.deputy"),
    placeholder: t("arch.nameHint"),
    search: searchIn(
      () => dir.deputies,
      (d) => `${d.name} ${d.delegation_name || ""}`,
      (d) => ({ id: d.id, label: d.name, meta: d.delegation_name || "" }),
    ),
    onPick: (c) => {
      deputy.clear();
      choose("deputy", c);
    },
  });
  const delegation = picker({
    id: "ar-delegation",
    label: t("arch.delegation"),
    placeholder: t("arch.nameHint"),
    search: searchIn(
      () => dir.delegations,
      (d) => d.name,
      (d) => ({ id: d.id, label: d.name }),
    ),
    onPick: (c) => {
      delegation.clear();
      choose("delegation", c);
    },
  });
  const unit = picker({
    id: "ar-unit",
    label: t("arch.unit"),
    placeholder: t("arch.nameHint"),
    search: searchIn(
      () => units,
      ([, name]) => name,
      ([id, name]) => ({ id, label: name }),
    ),
    onPick: (c) => {
      unit.clear();
      choose("unit", c);
    },
  });
  const picked = el("div", { class: "row", id: "ar-picked", "aria-live": "polite" });
  drawPicked = () => {
    fill(
      picked,
      PICKED.filter(([name]) => archive[name]).map(([name, key]) =>
        el(
          "span",
          { class: "picked", "data-filter": name, "data-id": archive[name].id },
          chip(`${t(key)}：${archive[name].label}`, "info"),
          el("button", { type: "button", class: "link", "aria-label": t("arch.clear", { what: t(key) }), onclick: () => choose(name, null) }, "×"),
        ),
      ),
    );
  };
  const form = el(
    "form",
    { id: "archive-form", role: "search" },
    el(
      "div",
      { class: "filters" },
      pickerField("arch.deputy", deputy),
      pickerField("arch.delegation", delegation),
      pickerField("arch.unit", unit),
      field("arch.channel", channel),
      field("arch.kind", kind),
      field("common.from", since),
      field("common.to", until),
      field("arch.text", text),
    ),
    picked,
    el("button", { type: "submit", class: "primary", id: "ar-search" }, t("common.search")),
  );
  const tbody = el("tbody", { id: "archive-rows" });
  const more = el("button", { type: "button", id: "ar-more", hidden: true }, t("common.more"));
  const exports = el("div", { class: "row", id: "exports" });
  let next = null;
  let asked = 0; // the latest search; an older answer is not drawn
  const params = () => {
    const q = new URLSearchParams();
    for (const [name, input] of Object.entries(plain)) if (input.value.trim()) q.set(name, input.value.trim());
    for (const [name] of PICKED) if (archive[name]) q.set(name, archive[name].id);
    return q;
  };
  const drawExports = () => {
    const q = params();
    const links = [];
    for (const ds of ["messages", "receipts", "notices", "attendance"]) {
      for (const fmt of ["csv", "jsonl"]) {
        const p = new URLSearchParams(q);
        p.set("format", fmt);
        if (ds === "attendance" && meetingId !== null) p.set("meeting", meetingId);
        links.push(el("a", { class: "button", href: authUrl(`/api/archive/export/${ds}?${p}`), download: `${ds}.${fmt}`, "data-export": `${ds}.${fmt}` }, `${t(`export.${ds}`)} ${fmt.toUpperCase()}`));
      }
    }
    fill(exports, el("strong", {}, `${t("sup.export")}：`), links);
  };
  const run = async (append) => {
    const q = params();
    q.set("order", "desc");
    q.set("limit", "50");
    if (append && next) q.set("cursor", next);
    const mine = ++asked;
    const r = await get(`/api/archive/messages?${q}`);
    if (mine !== asked) return;
    next = r.next;
    if (!append) tbody.replaceChildren();
    tbody.append(...r.messages.map(archiveRow));
    if (!tbody.children.length) tbody.append(el("tr", {}, el("td", { colspan: 6, class: "meta" }, t("common.empty"))));
    more.hidden = !next;
    drawExports();
  };
  runArchive = () => busy(form.querySelector("button[type=submit]"), () => run(false));
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    runArchive();
  });
  more.addEventListener("click", () => busy(more, () => run(true)));
  for (const i of Object.values(plain)) i.addEventListener("change", drawExports);
  fill(
    box,
    form,
    exports,
    el(
      "div",
      { class: "table-wrap" },
      el("table", { id: "archive-table" }, el("thead", {}, el("tr", {}, ["common.time", "arch.channel", "arch.kind", "arch.sender", "common.text", "arch.receipts"].map((k) => el("th", { scope: "col" }, t(k))))), tbody),
    ),
    more,
  );
  drawExports();
  run(false).catch(() => {});
}

// -- item timelines ------------------------------------------------------------------------
//
// The item is found by its number, its title, its units or deputies (names or pinyin
// initials); the list searched is the meeting's items, kept up to date by the messages.

const itemsById = new Map(); // id -> the item as listed, updated by item messages
let showItem = null;

function itemText(i) {
  const people = [i.lead_unit, ...(i.co_units || []), ...(i.deputies || [])].filter(Boolean).map((x) => x.name);
  return `#${i.id} ${i.title} ${t(`state.${i.state}`)} ${people.join(" ")}`;
}

async function drawTimelines() {
  const box = document.querySelector("#timelines .body");
  if (meetingId === null) return;
  for (const i of await allItems().catch(() => [])) itemsById.set(i.id, i);
  let chosen = null;
  const out = el("div", { id: "tl-out", "aria-live": "polite" });
  const title = el("p", { id: "tl-chosen", class: "meta" });
  const show = async () => {
    if (!chosen) return fill(out, el("p", { class: "meta" }, t("item.none")));
    const id = chosen;
    const item = itemsById.get(id);
    fill(title, item ? `#${item.id} ${item.title}` : "");
    const timelinePath = "/api/items/{id}/timeline";
    const [ev, tl] = await Promise.all([get(`/api/items/${id}/events`), (await has("GET", timelinePath)) ? get(`/api/items/${id}/timeline`, { quiet: true }).catch(() => null) : null]);
    if (id !== chosen) return;
    const stages = tl && tl.stages ? Object.entries(tl.stages).filter(([, v]) => v !== null && typeof v === "number") : [];
    fill(
      out,
      item ? el("p", {}, chip(t(`state.${item.state}`), ""), " ", item.lead_unit ? item.lead_unit.name : "") : null,
      stages.length ? el("ul", { class: "people", id: "tl-stages" }, stages.map(([k, v]) => el("li", {}, `${t(`stage.${k.replace(/_s$/, "")}`)}：${duration(v)}`))) : null,
      tl && tl.deadlines ? el("ul", { class: "list", id: "tl-deadlines" }, tl.deadlines.map((d) => el("li", {}, `${t(`deadline.${d.deadline}`)}${d.unit ? ` · ${d.unit.name}` : ""} · ${deadlineText(d.due)} · `, chip(t(`dstatus.${d.status}`), d.status === "met" ? "ok" : d.status === "pending" ? "info" : d.status === "superseded" ? "" : "bad")))) : null,
      el(
        "ol",
        { class: "timeline" },
        ev.events.map((e) => {
          const x = eventText(e, units);
          return el("li", { "data-action": e.action }, el("span", { class: "meta" }, `${when(e.at)} · ${x.who}`), el("div", {}, x.what), x.text ? el("div", { class: "text" }, x.text) : null);
        }),
      ),
    );
  };
  const p = picker({
    id: "tl-item",
    label: t("sup.pickItem"),
    placeholder: t("sup.itemHint"),
    empty: true,
    search: searchIn(
      () => itemsById.values(),
      itemText,
      (i) => ({ id: i.id, label: `#${i.id} ${i.title}`, meta: t(`state.${i.state}`) }),
    ),
    onPick: (c) => {
      p.clear();
      chosen = c.id;
      show().catch(() => {});
    },
  });
  showItem = (id) => {
    if (id === chosen) show().catch(() => {});
  };
  fill(box, pickerField("sup.pickItem", p), title, out);
  chosen = itemsById.size ? itemsById.keys().next().value : null; // the first, until one is picked
  await show();
}

function duration(seconds) {
  const h = seconds / 3600;
  return h < 48 ? t("time.hours", { n: h.toFixed(1) }) : t("time.days", { n: (h / 24).toFixed(1) });
}

// -- performance files -------------------------------------------------------------------

async function drawFiles() {
  const box = document.querySelector("#files .body");
  let ranking;
  try {
    ranking = (await get("/api/points", { quiet: true })).deputies;
  } catch {
    ranking = null;
  }
  if (!ranking) return fill(box, el("p", { class: "meta" }, t("common.empty")));
  let chosen = null;
  const out = el("div", { id: "file-out", "aria-live": "polite" });
  const show = async () => {
    const f = await get(`/api/deputies/${chosen.id}/file`);
    const a = f.attendance?.counts || {};
    const pts = Object.entries(f.points?.by_event || {});
    fill(
      out,
      el("h3", {}, chosen.label),
      el("div", { class: "stat-grid" }, [
        [a.checked_in, "att.checkedIn"],
        [a.on_leave, "att.onLeave"],
        [a.absent, "att.absent"],
        [(f.speeches || []).length, "perf.speeches"],
        [(f.registrations || []).length, "perf.register"],
        [f.points?.total ?? 0, "perf.points"],
      ].map(([n, k]) => el("div", { class: "stat" }, el("b", {}, String(n ?? 0)), el("span", {}, t(k))))),
      pts.length ? el("div", { class: "chart" }, bars(pts.map(([k, v]) => ({ label: pointsLabel(k), value: Number(v) })), { title: t("perf.points") })) : null,
      el("p", { class: "meta" }, t("perf.views", { n: f.views?.file ?? 0 })),
      (f.registrations || []).length ? el("ul", { class: "list" }, f.registrations.map((r) => el("li", {}, chip(t(`regState.${r.state}`), r.state === "confirmed" ? "ok" : r.state === "rejected" ? "bad" : "warn"), " ", `${day(r.activity_date)} ${t(`perf.activity.${r.kind}`)} · `, el("span", { class: "text" }, r.title)))) : null,
    );
  };
  // Opening a file is recorded as a view: only on request, never on page load or on
  // choosing whose it is.
  const open = el("button", { type: "button", id: "file-open", disabled: true }, t("sup.openFile"));
  open.addEventListener("click", () => busy(open, show));
  const who = el("span", { id: "file-chosen" });
  const p = picker({
    id: "file-deputy",
    label: t("sup.pickDeputy"),
    placeholder: t("arch.nameHint"),
    search: searchIn(
      () => ranking,
      (r) => `${r.deputy.name} ${r.delegation ? r.delegation.name : ""}`,
      (r) => ({ id: r.deputy.id, label: r.deputy.name, meta: r.delegation ? r.delegation.name : "" }),
    ),
    onPick: (c) => {
      p.clear();
      chosen = c;
      fill(who, chip(c.label, "info"));
      open.disabled = false;
      open.focus();
    },
  });
  const top = ranking.slice(0, 10).map((r) => ({ label: r.deputy.name, value: Number(r.total) }));
  fill(box, el("div", { class: "chart", id: "chart-points" }, el("h3", {}, t("stat.pointsTop")), bars(top, { title: t("stat.pointsTop") })), pickerField("sup.pickDeputy", p), el("div", { class: "row" }, who, open), out);
}

function pointsLabel(k) {
  const s = t(`points.${k}`);
  return s === `points.${k}` ? k : s;
}

// -- registrations to review ------------------------------------------------------------------

async function drawRegistrations() {
  const box = document.querySelector("#registrations .body");
  if (me.role !== "supervisor") return fill(box, el("p", { class: "meta" }, t("sup.onlySupervisor")));
  let r;
  try {
    r = await get("/api/registrations?state=submitted&limit=200", { quiet: true });
  } catch {
    return fill(box, el("p", { class: "meta" }, t("common.empty")));
  }
  const refresh = el("button", { type: "button" }, t("common.refresh"));
  refresh.addEventListener("click", () => drawRegistrations());
  fill(
    box,
    refresh,
    r.registrations.length
      ? el(
          "ul",
          { class: "list", id: "review-list" },
          r.registrations.map((x) => {
            const reason = el("textarea", { rows: 2 });
            const rejectForm = el("form", { hidden: true }, field("common.reason", reason), el("button", { type: "submit", class: "danger" }, t("sup.reject")));
            rejectForm.addEventListener("submit", (ev) => {
              ev.preventDefault();
              if (!reason.value.trim()) return reason.focus();
              busy(rejectForm.querySelector("button"), () => post(`/api/registrations/${x.id}/reject`, { reason: reason.value.trim() }).then(done));
            });
            const ok = el("button", { type: "button", class: "primary" }, t("sup.confirm"));
            ok.addEventListener("click", () => busy(ok, () => post(`/api/registrations/${x.id}/confirm`).then(done)));
            const no = el("button", { type: "button" }, t("sup.reject"));
            no.addEventListener("click", () => {
              rejectForm.hidden = !rejectForm.hidden;
            });
            return el(
              "li",
              { "data-registration": x.id },
              el("div", {}, el("strong", {}, x.deputy.name), ` · ${t(`perf.activity.${x.kind}`)} · ${day(x.activity_date)}`),
              el("div", { class: "text" }, x.title),
              el("p", { class: "text meta" }, x.text),
              x.attachment ? el("a", { href: authUrl(`/api/registrations/${x.id}/attachment`) }, t("perf.hasEvidence")) : null,
              el("div", { class: "row" }, ok, no),
              rejectForm,
            );
          }),
        )
      : el("p", { class: "meta" }, t("common.empty")),
  );
}

function done() {
  flash(t("common.done"));
  drawRegistrations();
}

// -- verify --------------------------------------------------------------------------------

function drawVerify() {
  const box = document.querySelector("#verify .body");
  const out = el("div", { id: "verify-out", "aria-live": "polite" });
  const btn = el("button", { type: "button", class: "primary", id: "verify-run" }, t("sup.verifyRun"));
  btn.addEventListener("click", () =>
    busy(btn, async () => {
      const r = await get("/api/archive/verify");
      fill(
        out,
        r.ok
          ? el("p", { class: "verify-ok", "data-ok": "true" }, `✔ ${t("sup.verifyOk", { n: r.messages, c: r.channels })}`)
          : el("div", { "data-ok": "false" }, el("p", { class: "verify-bad" }, `✘ ${t("sup.verifyBad", { n: r.breaks.length })}`), el("ul", { class: "list" }, r.breaks.map((b) => el("li", {}, t("sup.verifyBroken", { channel: b.channel, seq: b.seq }), " · ", b.problem, " · ", el("span", { class: "text" }, b.detail))))),
        el("p", { class: "meta" }, `${t("sup.anchor")}：`, el("code", {}, r.anchor || "—"), ` · ${when(new Date().toISOString())}`),
      );
    }),
  );
  fill(box, el("p", { class: "meta" }, t("sup.verifyWhat")), btn, out);
}

// -- wiring --------------------------------------------------------------------------------

client.addEventListener("message", (ev) => {
  const m = ev.detail;
  if (m.cached || meetingId === null) return;
  if (STATS_KINDS.some((k) => m.kind.startsWith(k))) refreshStats();
  const item = m.body && m.body.item;
  if ((m.kind.startsWith("item.") || m.kind.startsWith("suggestion.")) && item && item.id) {
    itemsById.set(item.id, { ...itemsById.get(item.id), ...item });
    if (showItem) showItem(item.id);
  }
});

// -- the roster import: admins (the supervisors' page is theirs too) ----------------------

if (me.role === "admin" && meetingId !== null) {
  document.getElementById("roster").hidden = false;
  document.querySelector('nav a[href="#roster"]').hidden = false;
  mountRoster(document.querySelector("#roster .body"), meetingId);
}

/** The directory the archive's pickers search: the meeting's deputies, every delegation. */
async function archiveDirectory() {
  const [d, g] = await Promise.all([
    meetingId === null ? { deputies: [] } : get(`/api/meetings/${meetingId}/deputies`, { quiet: true }).catch(() => ({ deputies: [] })),
    get("/api/delegations", { quiet: true }).catch(() => ({ delegations: [] })),
  ]);
  return { deputies: d.deputies, delegations: g.delegations };
}

drawArchive(await archiveDirectory());
drawVerify();
drawStatsShell();
await Promise.all([drawStats(), drawTimelines(), drawFiles(), drawRegistrations()].map((p) => p.catch((e) => console.error(e))));
if (meetingId !== null) {
  client.subscribe(`desk:${meetingId}`);
  // A sitting closed (sitting.closed on the meeting's channel) changes the attendance
  // figures; followed from its head, as the history is not needed here.
  const head = await get(`/api/channels/meeting:${meetingId}/messages?limit=1`, { quiet: true }).then((r) => r.head, () => 0);
  client.subscribe(`meeting:${meetingId}`, { since: head });
  setInterval(() => {
    if (!document.hidden) refreshStats();
  }, STATS_IDLE);
}
client.start();
