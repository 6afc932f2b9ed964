// A deputy's performance file (履职档案) as the supervisor and the deputy read it: the
// figures, then every list — registrations, attendance per sitting, speeches, opinions,
// suggestions and commit-to-do items — with dates and states in words; who viewed it and
// when (the deputy's own views are not counted: the server leaves them out); a button
// that prints the file alone (css/print.css) and a CSV export.

import { authUrl } from "./api.js";
import { t } from "./i18n.js";
import { chip, day, el, when } from "./ui.js";

/** A duty-points event by its label (tests/supervision/test_labels.py: every event has one). */
export function pointsLabel(k) {
  return t(`points.${k}`);
}

const REG_CHIP = { submitted: "warn", confirmed: "ok", rejected: "bad" };
const ATT_CHIP = { checked_in: "ok", absent: "bad", on_leave: "info", leave_pending: "warn" };

function section(id, titleKey, rows) {
  return el("section", { class: "file-list", "data-list": id }, el("h4", {}, t(titleKey), ` (${rows.length})`), rows.length ? el("ul", { class: "list" }, rows) : el("p", { class: "meta" }, t("perf.noneYet")));
}

function viewLine(v) {
  const who = { when: when(v.ts), name: v.viewer.name, role: t(`role.${v.viewer.role}`) };
  return el("li", { "data-viewer": v.viewer.id }, v.registration_id ? t("perf.viewedRegistration", { ...who, title: v.registration_title || "" }) : t("perf.viewed", who));
}

/**
 * The file's elements.
 * @param {object} f  the answer of GET /api/deputies/{id}/file
 */
export function fileView(f) {
  const a = f.attendance?.counts || {};
  const v = f.views || {};
  const stat = (n, key) => el("div", { class: "stat" }, el("b", {}, String(n ?? 0)), el("span", {}, t(key)));
  const byEvent = Object.entries(f.points?.by_event || {});
  const printBtn = el("button", { type: "button", class: "no-print", "data-action": "print" }, t("perf.print"));
  const box = el(
    "div",
    { class: "perf-file", "data-deputy": f.deputy.id },
    el("h3", { class: "file-name" }, f.deputy.name),
    el("p", { class: "meta file-period" }, [f.deputy.delegation ? f.deputy.delegation.name : null, t("perf.period", { from: day(f.period.from), to: day(new Date(Date.parse(f.period.to) - 1).toISOString()) })].filter(Boolean).join(" · ")),
    el(
      "div",
      { class: "row no-print file-actions" },
      printBtn,
      el("a", { class: "button", href: authUrl(`/api/deputies/${f.deputy.id}/file.csv`), download: `file-${f.deputy.id}.csv`, "data-export": "file.csv" }, t("perf.exportCsv")),
    ),
    el(
      "div",
      { class: "stat-grid file-stats" },
      stat(a.checked_in, "att.checkedIn"),
      stat(a.on_leave, "att.onLeave"),
      stat(a.absent, "att.absent"),
      stat((f.speeches || []).length, "perf.speeches"),
      stat((f.opinions || []).length, "perf.opinions"),
      stat((f.items || []).length, "perf.items"),
      stat((f.registrations || []).length, "perf.registrations"),
      stat(f.points?.total, "perf.points"),
    ),
    section(
      "points",
      "perf.points",
      byEvent.map(([k, n]) => el("li", { class: "row spread", "data-event": k }, el("span", {}, pointsLabel(k)), el("strong", {}, String(n)))),
    ),
    section(
      "registrations",
      "perf.registrations",
      (f.registrations || []).map((r) => el("li", { "data-registration": r.id }, chip(t(`regState.${r.state}`), REG_CHIP[r.state] || ""), " ", `${day(r.activity_date)} ${t(`perf.activity.${r.kind}`)} · `, el("span", { class: "text" }, r.title))),
    ),
    section(
      "attendance",
      "perf.attendance",
      (f.attendance?.sittings || []).map((s) =>
        el("li", { class: "row spread", "data-sitting": s.sitting.id }, el("span", {}, `${day(s.starts_at)} ${s.sitting.title}`, s.checked_in_at ? el("span", { class: "meta" }, ` · ${t("perf.checkedInAt", { time: when(s.checked_in_at) })}`) : null), chip(t(`attStatus.${s.status}`), ATT_CHIP[s.status] || "")),
      ),
    ),
    section(
      "speeches",
      "perf.speeches",
      (f.speeches || []).map((s) => el("li", { "data-speech": s.id }, `${when(s.started_at)} ${s.sitting.title}`, s.agenda_item?.title ? ` · ${s.agenda_item.title}` : "", s.duration_s !== null && s.duration_s !== undefined ? el("span", { class: "meta" }, ` · ${t("perf.duration", { n: Math.round(s.duration_s) })}`) : null)),
    ),
    section(
      "opinions",
      "perf.opinions",
      (f.opinions || []).map((o) => el("li", { "data-opinion": o.id }, chip(t(`perf.opStatus.${o.status}`), o.status === "submitted" ? "warn" : "ok"), ` ${day(o.created_at)} `, el("span", { class: "text" }, o.text))),
    ),
    section(
      "items",
      "perf.items",
      (f.items || []).map((i) => el("li", { "data-item": i.id }, chip(t(`state.${i.state}`), i.state === "closed" ? "ok" : ""), ` ${day(i.created_at)} ${t(i.kind === "commit" ? "item.commit" : "item.suggestion")} #${i.id} `, el("span", { class: "text" }, i.title), el("span", { class: "meta" }, ` · ${t(`perf.role.${i.role}`)}`))),
    ),
    el(
      "section",
      { class: "file-list", "data-list": "views" },
      el("h4", {}, t("perf.viewers")),
      el("p", { class: "meta", "data-views": v.file ?? 0 }, t("perf.viewsBy", { n: v.file ?? 0, people: v.file_viewers ?? 0, r: v.registrations ?? 0 })),
      (v.recent || []).length ? el("ul", { class: "list" }, v.recent.map(viewLine)) : el("p", { class: "meta" }, t("perf.noViews")),
    ),
  );
  printBtn.addEventListener("click", () => printAlone(box));
  return box;
}

/** Print `box` alone (css/print.css hides the rest of the page while printing). */
export function printAlone(box) {
  box.classList.add("print-me");
  document.body.classList.add("printing-file");
  const done = () => {
    box.classList.remove("print-me");
    document.body.classList.remove("printing-file");
  };
  window.addEventListener("afterprint", done, { once: true });
  window.print();
}
