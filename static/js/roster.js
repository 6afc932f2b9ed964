// The roster import (代表名册导入), for an admin and the meeting's secretariat: choose a
// CSV or Excel (.xlsx) file → the server's preview (each row new, updated, unchanged or in
// error, with its reasons) → 导入, enabled only when no row is in error and something
// would change → the result. Nothing is written before 导入; the server checks the file
// again when it imports it, in one transaction (docs/protocol.md).
//
// The preview of 1,000 rows keeps the page light: the rows in error first, then the
// others, PAGE rows at a time, with a filter by result.

import { failed, session, showError } from "./api.js";
import { errorText, t } from "./i18n.js";
import { busy, chip, el, field, fill, flash } from "./ui.js";

const PAGE = 50;
const RESULTS = ["error", "new", "updated", "unchanged"];
const RESULT_KIND = { error: "bad", new: "ok", updated: "info", unchanged: "" };

/** A row error's text: its code's string, its parameters in the page's language. */
export function rowErrorText(e) {
  const p = { ...e };
  if (p.column) p.column = t(`roster.field.${p.column}`);
  if (p.role) p.role = t(`role.${p.role}`);
  if (p.contact) p.contact = t(`contact.${p.contact}`);
  return t(`roster.err.${e.code}`, p);
}

/** The import section in `box` for meeting `meetingId`. */
export function mountRoster(box, meetingId) {
  const state = { file: null, report: null, filter: "all", page: 0, canImport: false };
  // The browser's own file control speaks the browser's language: a label of ours instead.
  const file = el("input", { id: "roster-file", type: "file", class: "file-hidden", accept: ".csv,.xlsx,text/csv,application/vnd.openxmlformats-officedocument.spreadsheetml.sheet" });
  const chosen = el("span", { class: "meta", id: "roster-chosen" }, t("roster.noFile"));
  const again = el("button", { type: "button", id: "roster-preview" }, t("roster.preview"));
  const importBtn = el("button", { type: "button", id: "roster-import", class: "primary", disabled: true }, t("roster.import"));
  const summary = el("div", { id: "roster-summary", "aria-live": "polite" });
  const filter = el("select", { id: "roster-filter" }, ["all", ...RESULTS].map((r) => el("option", { value: r }, r === "all" ? t("roster.filter.all") : t(`roster.result.${r}`))));
  const tbody = el("tbody", { id: "roster-rows" });
  const pager = el("div", { class: "row", id: "roster-pager" });
  const table = el(
    "div",
    { class: "table-wrap", hidden: true, id: "roster-table" },
    el("div", { class: "row" }, field("roster.filter", filter)),
    el("table", {}, el("thead", {}, el("tr", {}, ["row", "username", "name", "result", "detail"].map((k) => el("th", { scope: "col" }, t(`roster.col.${k}`))))), tbody),
    pager,
  );

  fill(
    box,
    el("p", { class: "meta" }, t("roster.help")),
    el("p", { class: "meta" }, t("roster.noPassword")),
    el("div", { class: "row" }, file, el("label", { for: "roster-file", class: "button", id: "roster-choose" }, t("roster.choose")), chosen, again, importBtn),
    summary,
    table,
  );

  async function send(step) {
    const f = state.file;
    const q = new URLSearchParams({ filename: f.name });
    const r = await fetch(`/api/meetings/${meetingId}/roster/${step}?${q}`, {
      method: "POST",
      headers: { Authorization: `Bearer ${session.get().token}`, "Content-Type": f.type || "application/octet-stream" },
      body: f,
    });
    if (r.ok) return { report: await r.json() };
    const err = await failed(r);
    // Rows in error at import time (changed since the preview): the report comes with it.
    if (err.code === "conflict" && err.params.report) return { report: err.params.report, err };
    return { err };
  }

  async function preview() {
    if (!state.file) return file.focus();
    state.canImport = false;
    importBtn.disabled = true;
    const { report, err } = await send("preview");
    if (!report) {
      state.report = null;
      fill(summary, el("p", { class: "error-line", id: "roster-problem" }, errorText(err)));
      table.hidden = true;
      return;
    }
    show(report, false);
  }

  function show(report, imported) {
    state.report = report;
    state.page = 0;
    const c = report.counts;
    const lines = [];
    if (imported) lines.push(el("p", { class: "flash-line", id: "roster-done" }, report.written ? t("roster.done", c) : t("roster.doneNothing")));
    lines.push(
      el(
        "p",
        { class: "chips", id: "roster-counts" },
        RESULTS.map((r) => [chip(`${t(`roster.result.${r}`)} ${c[r]}`, r === "error" && !c.error ? "" : RESULT_KIND[r]), " "]),
      ),
    );
    const names = (list) => list.join("、");
    if (report.created_delegations.length) lines.push(el("p", { class: "meta", id: "roster-new-delegations" }, t(imported ? "roster.createdDelegations" : "roster.createDelegations", { names: names(report.created_delegations) })));
    if (report.created_units.length) lines.push(el("p", { class: "meta", id: "roster-new-units" }, t(imported ? "roster.createdUnits" : "roster.createUnits", { names: names(report.created_units) })));
    if (report.unknown_columns.length) lines.push(el("p", { class: "meta", id: "roster-unknown" }, t("roster.unknownColumns", { names: names(report.unknown_columns) })));
    if (report.ignored_columns.length) lines.push(el("p", { class: "meta", id: "roster-ignored" }, t("roster.ignoredColumns", { names: names(report.ignored_columns) })));
    const changes = c.new + c.updated;
    if (!imported) {
      if (c.error) lines.push(el("p", { class: "error-line", id: "roster-blocked" }, t("roster.fixErrors", { n: c.error })));
      else if (!changes) lines.push(el("p", { class: "meta", id: "roster-nothing" }, t("roster.nothing")));
      else lines.push(el("p", { class: "meta", id: "roster-ready" }, t("roster.ready", { n: changes })));
    }
    const made = report.rows.filter((r) => r.result === "new").map((r) => r.username);
    if (imported && report.written && made.length) lines.push(passwords(made));
    fill(summary, lines);
    state.canImport = !imported && c.error === 0 && changes > 0;
    importBtn.disabled = !state.canImport;
    filter.value = c.error ? "error" : "all";
    state.filter = filter.value;
    table.hidden = false;
    drawRows();
  }

  function shown() {
    const rows = state.report.rows;
    const picked = state.filter === "all" ? rows : rows.filter((r) => r.result === state.filter);
    // The rows in error first, then in the file's order.
    return [...picked].sort((a, b) => (b.result === "error") - (a.result === "error") || a.row - b.row);
  }

  function detail(r) {
    if (r.errors.length) return el("ul", { class: "reasons" }, r.errors.map((e) => el("li", {}, rowErrorText(e))));
    if (r.changes.length) return t("roster.changes", { fields: r.changes.map((f) => t(`roster.field.${f}`)).join("、") });
    return "";
  }

  function drawRows() {
    const rows = shown();
    const pages = Math.max(1, Math.ceil(rows.length / PAGE));
    state.page = Math.min(state.page, pages - 1);
    const part = rows.slice(state.page * PAGE, (state.page + 1) * PAGE);
    fill(
      tbody,
      part.length
        ? part.map((r) =>
            el(
              "tr",
              { "data-row": r.row, "data-result": r.result },
              el("td", {}, String(r.row)),
              el("td", {}, r.username),
              el("td", {}, r.name),
              el("td", {}, chip(t(`roster.result.${r.result}`), RESULT_KIND[r.result])),
              el("td", {}, detail(r)),
            ),
          )
        : el("tr", {}, el("td", { colspan: 5, class: "meta" }, t("roster.noRows"))),
    );
    const prev = el("button", { type: "button", id: "roster-prev", disabled: state.page === 0 }, t("roster.prev"));
    const next = el("button", { type: "button", id: "roster-next", disabled: state.page >= pages - 1 }, t("roster.next"));
    prev.addEventListener("click", () => {
      state.page -= 1;
      drawRows();
    });
    next.addEventListener("click", () => {
      state.page += 1;
      drawRows();
    });
    fill(pager, pages > 1 ? [prev, el("span", { class: "meta", id: "roster-page" }, t("roster.page", { page: state.page + 1, pages, n: rows.length })), next] : el("span", { class: "meta", id: "roster-page" }, t("roster.total", { n: rows.length })));
  }

  // The new accounts' first passwords: temporary, shown once, printed as slips or saved
  // as a spreadsheet to hand out; each only lets its holder choose their own.
  function passwords(usernames) {
    const box = el("div", { id: "roster-passwords" });
    const issue = el("button", { type: "button", id: "roster-issue", class: "primary" }, t("roster.issue", { n: usernames.length }));
    issue.addEventListener("click", () =>
      busy(issue, async () => {
        const r = await fetch(`/api/meetings/${meetingId}/roster/passwords`, {
          method: "POST",
          headers: { Authorization: `Bearer ${session.get().token}`, "Content-Type": "application/json" },
          body: JSON.stringify({ usernames }),
        });
        if (!r.ok) return showError(await failed(r));
        const out = await r.json();
        fill(box, slips(out));
      }),
    );
    fill(box, el("p", { class: "meta" }, t("roster.issueHelp")), issue);
    return box;
  }

  function slips(out) {
    const rows = out.issued.map((a) => [a.username, a.name, a.delegation || a.unit || "", a.password]);
    const head = ["username", "name", "group", "password"].map((k) => t(`roster.slip.${k}`));
    const save = el("button", { type: "button", id: "roster-slips-csv" }, t("roster.slipsCsv"));
    save.addEventListener("click", () => {
      const quote = (v) => `"${String(v).replaceAll('"', '""')}"`;
      const text = [head, ...rows].map((r) => r.map(quote).join(",")).join("\r\n");
      const a = el("a", { href: URL.createObjectURL(new Blob(["\ufeff" + text], { type: "text/csv" })), download: t("roster.slipsFile", { meeting: out.meeting.title }) });
      a.click();
      URL.revokeObjectURL(a.href);
    });
    const print = el("button", { type: "button", id: "roster-slips-print" }, t("roster.slipsPrint"));
    print.addEventListener("click", () => {
      document.body.classList.add("printing-slips");
      window.print();
      document.body.classList.remove("printing-slips");
    });
    const skipped = out.skipped.length ? el("p", { class: "meta", id: "roster-skipped" }, t("roster.skipped", { n: out.skipped.length })) : null;
    return [
      el("p", { class: "error-line", id: "roster-once" }, t("roster.once", { n: rows.length })),
      skipped,
      el("div", { class: "row" }, print, save),
      el(
        "div",
        { id: "roster-slips" },
        el("h3", {}, t("roster.slipsTitle", { meeting: out.meeting.title })),
        el("table", {}, el("thead", {}, el("tr", {}, head.map((h) => el("th", { scope: "col" }, h)))), el("tbody", {}, rows.map((r) => el("tr", { "data-username": r[0] }, r.map((v, i) => el("td", i === 3 ? { class: "secret" } : {}, v)))))),
        el("p", { class: "meta" }, t("roster.slipsHow")),
      ),
    ];
  }

  filter.addEventListener("change", () => {
    state.filter = filter.value;
    state.page = 0;
    drawRows();
  });
  file.addEventListener("change", () => {
    state.file = file.files[0] || null;
    chosen.textContent = state.file ? state.file.name : t("roster.noFile");
    if (state.file) busy(again, preview);
  });
  again.addEventListener("click", () => busy(again, preview));
  importBtn.addEventListener("click", async () => {
    if (!state.canImport) return;
    await busy(importBtn, async () => {
      const { report, err } = await send("import");
      if (err) showError(err);
      if (report) show(report, !err);
      else state.canImport = false; // preview again first
      if (!err) flash(t("roster.imported"));
    });
    importBtn.disabled = !state.canImport; // busy() enables it again
  });
}
