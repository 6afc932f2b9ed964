// Deputy, "duties" tab: duty points with their breakdown (and a dispute per entry),
// performance registration with evidence, and the performance file (js/perf-file.js). The
// deputy's own reads of the file are not recorded as views.

import { get } from "./api.js";
import { t } from "./i18n.js";
import { outbox, submit } from "./outbox.js";
import { fileView, pointsLabel } from "./perf-file.js";
import { busy, chip, day, el, field, fill, flash, today } from "./ui.js";

let ctx = null;
let loaded = false;
const regs = new Map(); // id -> registration (mine)
const KINDS = ["inspection", "research", "constituents", "training", "other"];
const REG_STATE = { submitted: ["perf.pending", "warn"], confirmed: ["perf.confirmed", "ok"], rejected: ["perf.rejected", "bad"] };

export async function mount(c) {
  ctx = c;
  drawRegisterForm();
  fill(document.querySelector("#points .body"), el("p", { class: "meta" }, t("common.loading")));
  fill(document.querySelector("#file .body"), el("p", { class: "meta" }, t("common.loading")));
}

export function onTab(name) {
  if (ctx && name === "perf" && !loaded) {
    loaded = true;
    loadAll();
  }
}

// The hub's answers to writes sent later from the outbox: a registration, its evidence
// (sent after it), a dispute (the points show it).
outbox.addEventListener("sent", (ev) => {
  const { entry, data } = ev.detail;
  if (!ctx) return;
  if (entry.path === "/api/registrations" || entry.path.startsWith("/api/registrations/")) {
    regs.set(data.id, data);
    drawRegs();
  } else if (entry.path === "/api/points/disputes" && loaded) loadPoints();
});

export function onMessage(m) {
  if (!ctx || m.channel !== `deputy:${ctx.me.id}` || !m.kind.startsWith("registration.") || !m.body.registration) return;
  regs.set(m.body.registration.id, m.body.registration);
  drawRegs();
  if (loaded && !m.cached && m.kind === "registration.confirmed") loadPoints();
}

async function loadAll() {
  await Promise.all([loadPoints(), loadRegs(), loadFile()]);
}

// -- points ------------------------------------------------------------------------------

const eventLabel = pointsLabel;

async function loadPoints() {
  const box = document.querySelector("#points .body");
  let r;
  try {
    r = await get(`/api/deputies/${ctx.me.id}/points`);
  } catch {
    return fill(box, el("p", { class: "meta" }, t("common.empty")));
  }
  const p = r.points || r;
  const by = Object.entries(p.by_event || {});
  fill(
    box,
    el("p", { class: "stat", id: "points-total" }, el("b", {}, String(p.total)), el("span", {}, t("perf.total", { n: p.total }))),
    by.length ? el("ul", { class: "list" }, by.map(([k, v]) => el("li", { class: "row spread" }, el("span", {}, eventLabel(k)), el("strong", {}, String(v))))) : null,
    (p.entries || []).length
      ? el(
          "details",
          {},
          el("summary", {}, t("perf.entries")),
          el(
            "ul",
            { class: "list" },
            p.entries.map((e) => {
              const reason = el("textarea", { rows: 2, maxlength: 2000 });
              const form = el("form", { hidden: true }, field("perf.disputeReason", reason), el("button", { type: "submit", class: "primary" }, t("common.submit")));
              form.addEventListener("submit", (ev) => {
                ev.preventDefault();
                if (!reason.value.trim()) return reason.focus();
                busy(form.querySelector("button"), async () => {
                  const r = await submit("POST", "/api/points/disputes", { entry: e.key, reason: reason.value.trim() }, "perf.dispute");
                  flash(t(r.queued ? "outbox.queued" : "perf.disputed"));
                  form.hidden = true;
                });
              });
              const dispute = el("button", { type: "button", class: "link" }, t("perf.dispute"));
              dispute.addEventListener("click", () => {
                form.hidden = !form.hidden;
                if (!form.hidden) reason.focus();
              });
              return el(
                "li",
                { "data-entry": e.key },
                el("div", { class: "row" }, el("span", { class: "grow" }, `${day(e.ts)} ${eventLabel(e.event)}${e.title ? ` · ${e.title}` : ""}`), el("strong", {}, String(e.points)), e.dispute ? chip(t("perf.disputedChip"), "warn") : dispute),
                form,
              );
            }),
          ),
        )
      : null,
  );
}

// -- registrations -------------------------------------------------------------------------

async function loadRegs() {
  try {
    const r = await get("/api/registrations?limit=200");
    for (const x of r.registrations) regs.set(x.id, x);
  } catch {
    /* the list stays as the inbox tells it */
  }
  drawRegs();
}

function drawRegisterForm() {
  const box = document.querySelector("#register .body");
  const kind = el("select", { id: "rg-kind" }, KINDS.map((k) => el("option", { value: k }, t(`perf.activity.${k}`))));
  const date = el("input", { id: "rg-date", type: "date", value: today(), max: today() });
  const title = el("input", { id: "rg-title", maxlength: 300 });
  const text = el("textarea", { id: "rg-text", rows: 4 });
  const file = el("input", { id: "rg-file", type: "file" });
  const send = el("button", { type: "submit", class: "primary", id: "rg-send" }, t("common.submit"));
  const form = el("form", { id: "register-form" }, field("perf.activity", kind), field("common.date", date), field("common.title", title), field("common.text", text), field("perf.evidence", file), send);
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    if (!title.value.trim()) return title.focus();
    if (!text.value.trim()) return text.focus();
    busy(send, async () => {
      const f = file.files[0];
      const body = { kind: kind.value, activity_date: date.value, title: title.value.trim(), text: text.value.trim() };
      // The evidence waits with it, if need be, and is uploaded once it is registered.
      const upload = f ? { file: f, path: `/api/registrations/{id}/attachment?filename=${encodeURIComponent(f.name)}`, what: "perf.evidenceFile" } : null;
      const sent = await submit("POST", "/api/registrations", body, "perf.register", upload);
      if (sent.queued) {
        form.reset();
        date.value = today();
        return flash(t("outbox.queued"));
      }
      regs.set(sent.data.id, sent.data);
      form.reset();
      date.value = today();
      flash(t("perf.registered"));
      drawRegs();
    });
  });
  fill(box, form, el("h3", {}, t("perf.myRegistrations")), el("ul", { class: "list", id: "my-registrations" }));
  drawRegs();
}

function drawRegs() {
  const list = document.getElementById("my-registrations");
  if (!list) return;
  const all = [...regs.values()].sort((a, b) => b.id - a.id);
  fill(
    list,
    all.length
      ? all.map((r) => {
          const [key, kind] = REG_STATE[r.state] || [r.state, ""];
          return el(
            "li",
            { "data-registration": r.id, "data-state": r.state },
            el("div", { class: "row" }, chip(t(key), kind), el("strong", { class: "grow" }, r.title)),
            el("div", { class: "meta" }, `${t(`perf.activity.${r.kind}`)} · ${day(r.activity_date)}${r.attachment ? ` · ${t("perf.hasEvidence")}` : ""}`),
            r.reason ? el("p", { class: "meta" }, `${t("common.reason")}：`, el("span", { class: "text" }, r.reason)) : null,
          );
        })
      : el("li", { class: "meta" }, t("common.empty")),
  );
}

// -- the file ------------------------------------------------------------------------------

async function loadFile() {
  const box = document.querySelector("#file .body");
  let f;
  try {
    f = await get(`/api/deputies/${ctx.me.id}/file`);
  } catch {
    return fill(box, el("p", { class: "meta" }, t("common.empty")));
  }
  fill(box, fileView(f));
}
