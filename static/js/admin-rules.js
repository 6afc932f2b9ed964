// The admin's rules: the duty points rules (a new version from a date; a version not yet
// in force withdrawn), the deadline rules, the working-day calendar of a year (holidays
// and make-up working days) and the points disputes to resolve. Each change is logged by
// the hub on setup:1 (dispute resolutions on the deputy's inbox), and a change made
// elsewhere redraws the part it concerns.

import { api, get, post } from "./api.js";
import { day, t, today, when } from "./i18n.js";
import { busy, el, field, fill, flash } from "./ui.js";

const UNITS = ["hours", "days", "working_days", "months"];
const REDRAW = {
  "setup.points_rules_added": "points",
  "setup.points_rules_withdrawn": "points",
  "setup.deadline_rule_changed": "deadlines",
  "setup.calendar_changed": "calendar",
};
const draws = {};

export async function mount() {
  draws.points = drawPoints;
  draws.deadlines = drawDeadlines;
  draws.calendar = drawCalendar;
  await Promise.all([drawPoints(), drawDeadlines(), drawCalendar(), drawDisputes()].map((p) => p.catch((e) => console.error(e))));
}

export function onSetupMessage(m) {
  const part = REDRAW[m.kind];
  if (part) draws[part]().catch(() => {});
}

const eventLabel = (e) => t(`points.${e}`);

// -- points rules ------------------------------------------------------------------------

async function drawPoints() {
  const r = await get("/api/points/rules");
  const box = document.querySelector("#points .body");
  const current = r.rulesets.find((s) => s.id === r.in_force);
  const now = Date.now();
  const versions = el(
    "ul",
    { class: "list", id: "points-versions" },
    r.rulesets.map((s) => {
      const future = Date.parse(s.valid_from) > now;
      const withdraw = future ? el("button", { type: "button", class: "ghost" }, t("adm.withdraw")) : null;
      withdraw?.addEventListener("click", () =>
        busy(withdraw, async () => {
          await api("DELETE", `/api/points/rules/${s.id}`);
          flash(t("common.done"));
        }),
      );
      const state = s.id === r.in_force ? t("adm.inForce") : future ? t("adm.notYet") : t("adm.superseded");
      return el(
        "li",
        { "data-ruleset": s.id },
        el("div", { class: "row" }, el("span", { class: "grow" }, t("adm.validFrom", { date: day(s.valid_from) })), el("span", { class: "chip" }, state), withdraw),
        el("div", { class: "meta" }, s.rules.map((x) => ruleLine(x)).join("；")),
      );
    }),
  );
  // A new version: every event, prefilled from the version in force.
  const inputs = new Map();
  const rows = Object.keys(r.events).map((e) => {
    const had = current?.rules.find((x) => x.event === e);
    const points = el("input", { type: "number", step: "0.01", min: -1000, max: 1000, value: had ? had.points : "", "aria-label": t("adm.pointsOf", { event: eventLabel(e) }), "data-event": e });
    const cap = el("input", { type: "number", step: "0.01", min: 0, value: had?.cap ?? "", "aria-label": t("adm.capOf", { event: eventLabel(e) }) });
    const period = el("select", { "aria-label": t("adm.periodOf", { event: eventLabel(e) }) }, r.periods.map((p) => el("option", { value: p }, t(`adm.period.${p}`))));
    period.value = had?.period ?? "year";
    inputs.set(e, { points, cap, period });
    return el("tr", {}, el("td", {}, eventLabel(e)), el("td", {}, points), el("td", {}, cap), el("td", {}, period));
  });
  const from = el("input", { type: "date", id: "points-from", value: today() });
  const add = el("button", { type: "submit", class: "primary", id: "points-add" }, t("adm.addVersion"));
  const form = el(
    "form",
    { id: "points-form" },
    el("h3", {}, t("adm.newVersion")),
    field("adm.startsFrom", from),
    el("div", { class: "table-wrap" }, el("table", {}, el("thead", {}, el("tr", {}, el("th", {}, t("adm.event")), el("th", {}, t("adm.pointsCol")), el("th", {}, t("adm.capCol")), el("th", {}, t("adm.periodCol")))), el("tbody", {}, rows))),
    el("p", { class: "meta" }, t("adm.pointsHint")),
    add,
  );
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    const rules = [];
    for (const [event, x] of inputs)
      if (x.points.value !== "") rules.push({ event, points: Number(x.points.value), cap: x.cap.value === "" ? null : Number(x.cap.value), period: x.period.value });
    if (!from.value) return from.focus();
    busy(add, async () => {
      await post("/api/points/rules", { valid_from: from.value, rules });
      flash(t("common.done"));
    });
  });
  fill(box, el("h3", {}, t("adm.versions")), versions, form);
}

function ruleLine(x) {
  const cap = x.cap === null ? "" : t("adm.capText", { n: x.cap, period: t(`adm.period.${x.period}`) });
  return `${eventLabel(x.event)} ${t("adm.pointsText", { n: x.points })}${cap}`;
}

// -- deadline rules -----------------------------------------------------------------------

async function drawDeadlines() {
  const r = await get("/api/deadline-rules");
  const rows = r.rules.map((rule) => {
    const amount = el("input", { type: "number", min: 0, max: 730, value: rule.amount, "aria-label": t("adm.amountOf", { rule: t(`dl.${rule.name}`) }), class: "narrow" });
    const units = rule.name.endsWith(".due_soon") ? ["hours", "days"] : UNITS;
    const unit = el("select", { "aria-label": t("adm.unitOf", { rule: t(`dl.${rule.name}`) }) }, units.map((u) => el("option", { value: u }, t(`adm.unit.${u}`))));
    unit.value = rule.unit;
    const save = el("button", { type: "submit" }, t("adm.save"));
    const form = el("form", { class: "row", "data-rule": rule.name }, el("span", { class: "grow" }, t(`dl.${rule.name}`)), amount, unit, save);
    form.addEventListener("submit", (ev) => {
      ev.preventDefault();
      busy(save, async () => {
        await api("PUT", `/api/admin/deadline-rules/${rule.name}`, { amount: Number(amount.value), unit: unit.value });
        flash(t("common.done"));
      });
    });
    return el("li", {}, form);
  });
  fill(document.querySelector("#deadlines .body"), el("p", { class: "meta" }, t("adm.deadlinesHint")), el("ul", { class: "list", id: "deadline-list" }, rows));
}

// -- the working-day calendar ------------------------------------------------------------

let calendarYear = Number(today().slice(0, 4));

async function drawCalendar() {
  const year = calendarYear;
  const r = await get(`/api/calendar/${year}`);
  const entries = [...r.holidays.map((d) => ({ ...d, working: false })), ...r.workdays.map((d) => ({ ...d, working: true }))].sort((a, b) => a.date.localeCompare(b.date));
  const pick = el("select", { id: "cal-year", "aria-label": t("adm.year") }, [year - 1, year, year + 1].map((y) => el("option", { value: y }, t("adm.yearText", { year: y }))));
  pick.value = year;
  pick.addEventListener("change", () => {
    calendarYear = Number(pick.value);
    drawCalendar().catch(() => {});
  });
  const store = async (next) => {
    await api("PUT", `/api/admin/calendar/${year}`, {
      holidays: next.filter((e) => !e.working).map(({ date, name }) => ({ date, name })),
      workdays: next.filter((e) => e.working).map(({ date, name }) => ({ date, name })),
    });
    flash(t("common.done"));
    await drawCalendar();
  };
  const list = el(
    "ul",
    { class: "list", id: "cal-list" },
    entries.length
      ? entries.map((e) => {
          const remove = el("button", { type: "button", class: "ghost" }, t("common.remove"));
          remove.addEventListener("click", () => busy(remove, () => store(entries.filter((x) => x.date !== e.date))));
          return el("li", { "data-day": e.date }, el("div", { class: "row" }, el("span", { class: "grow" }, `${day(e.date)} ${e.name}`), el("span", { class: e.working ? "chip info" : "chip warn" }, t(e.working ? "adm.workday" : "adm.holiday")), remove));
        })
      : el("li", { class: "meta" }, t("adm.noCalendar")),
  );
  const date = el("input", { type: "date", id: "cal-date", min: `${year}-01-01`, max: `${year}-12-31` });
  const name = el("input", { id: "cal-name", maxlength: 100 });
  const kind = el("select", { id: "cal-kind" }, el("option", { value: "holiday" }, t("adm.holiday")), el("option", { value: "workday" }, t("adm.workday")));
  const add = el("button", { type: "submit", class: "primary", id: "cal-add" }, t("adm.addDay"));
  const form = el("form", { id: "cal-form" }, el("div", { class: "row" }, field("common.date", date), field("adm.dayName", name), field("setup.kind", kind)), add);
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    if (!date.value) return date.focus();
    const next = [...entries.filter((x) => x.date !== date.value), { date: date.value, name: name.value.trim(), working: kind.value === "workday" }];
    busy(add, () => store(next));
  });
  fill(document.querySelector("#calendar .body"), field("adm.year", pick), el("p", { class: "meta" }, t("adm.calendarHint")), list, form);
}

// -- points disputes ---------------------------------------------------------------------

const names = new Map();

async function personName(id) {
  if (!names.has(id)) names.set(id, get(`/api/admin/users/${id}`).then((a) => a.name, () => t("adm.unknownPerson")));
  return names.get(id);
}

async function drawDisputes() {
  const r = await get("/api/points/disputes?state=open");
  const box = document.querySelector("#disputes .body");
  if (!r.disputes.length) {
    fill(box, el("p", { class: "meta", id: "disputes-none" }, t("adm.noDisputes")));
    return;
  }
  const items = await Promise.all(
    r.disputes.map(async (d) => {
      const resolution = el("input", { maxlength: 2000, "aria-label": t("adm.resolution"), class: "grow" });
      const decide = (upheld, btn) =>
        busy(btn, async () => {
          if (!resolution.value.trim()) return resolution.focus();
          await post(`/api/points/disputes/${d.id}/resolve`, { upheld, resolution: resolution.value.trim() });
          flash(t("common.done"));
          await drawDisputes();
        });
      const uphold = el("button", { type: "button", class: "primary" }, t("adm.uphold"));
      const reject = el("button", { type: "button" }, t("adm.reject"));
      uphold.addEventListener("click", () => decide(true, uphold));
      reject.addEventListener("click", () => decide(false, reject));
      return el(
        "li",
        { "data-dispute": d.id },
        el("div", {}, el("strong", {}, await personName(d.deputy_id)), ` · ${eventLabel(d.entry.split(":")[0])} · ${when(d.created_at)}`),
        el("p", {}, d.reason),
        el("div", { class: "row" }, resolution, uphold, reject),
      );
    }),
  );
  fill(box, el("ul", { class: "list", id: "dispute-list" }, items));
}
