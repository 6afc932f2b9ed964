// Secretariat: the meeting's schedule (sittings, agenda) and its documents. The meeting's
// own secretariat edits an agenda item in place (agenda.changed comes back to every
// console) and closes a sitting that has started (a second click confirms; sitting.closed
// comes back), as the attendance board does.

import { api, authUrl, failed, get, post, session, showError } from "./api.js";
import { t, zonedIso } from "./i18n.js";
import { busy, el, field, fill, flash } from "./ui.js";
import { sittingEnded, sittingOption } from "./sittings.js";

let ctx = null;
let lists = null;
let docs = [];

export async function mount(c) {
  ctx = c;
  lists = {
    sittings: el("ul", { class: "list", id: "setup-sittings" }),
    agenda: el("ol", { class: "list", id: "setup-agenda" }),
    docs: el("ul", { class: "list", id: "setup-docs" }),
  };
  fill(
    document.querySelector("#setup .body"),
    el(
      "div",
      { class: "console three" },
      el("div", {}, el("h3", {}, t("att.sittings")), sittingForm(), lists.sittings),
      el("div", {}, el("h3", {}, t("setup.agenda")), agendaForm(), lists.agenda),
      el("div", {}, el("h3", {}, t("doc.title")), docForm(), lists.docs),
    ),
  );
  ctx.bus.addEventListener("overview", draw);
  draw();
  try {
    docs = (await get(`/api/meetings/${ctx.meetingId}/documents`)).documents;
  } catch {
    docs = [];
  }
  drawDocs();
}

export function onMessage(m) {
  if (!ctx || m.channel !== `meeting:${ctx.meetingId}`) return;
  if (m.kind === "document.added" && !docs.some((d) => d.id === m.body.document.id)) {
    docs.push(m.body.document);
    drawDocs();
  }
}

function runs() {
  return (ctx.me.meetings || []).includes(ctx.meetingId);
}

function closeButton(s) {
  if (!runs() || Date.parse(s.starts_at) > Date.now()) return null;
  const btn = el("button", { type: "button", class: "danger", "data-close": s.id }, t("setup.closeSitting"));
  let armed = false;
  btn.addEventListener("click", () => {
    if (!armed) {
      armed = true;
      btn.textContent = t("setup.confirmClose");
      return;
    }
    busy(btn, async () => {
      await post(`/api/sittings/${s.id}/close`);
      flash(t("common.done"));
    });
  });
  return btn;
}

function sittingItem(s) {
  // An ended one says so in its label (sittingOption); one that may be closed offers it.
  const close = sittingEnded(s) ? null : closeButton(s);
  return el("li", { "data-sitting": s.id }, el("div", { class: "row" }, el("span", { class: "grow" }, sittingOption(s)), close), s.place ? el("div", { class: "meta" }, t("att.place", { place: s.place })) : null);
}

function agendaItem(a) {
  const li = el("li", { "data-agenda": a.id });
  const show = () => fill(li, el("div", { class: "row" }, el("span", { class: "grow" }, `${a.position}. ${a.title}`), runs() ? el("button", { type: "button", class: "ghost", onclick: edit }, t("setup.editAgenda")) : null));
  function edit() {
    const title = el("input", { value: a.title, maxlength: 300, "aria-label": t("common.title"), class: "grow" });
    const save = el("button", { type: "submit", class: "primary" }, t("adm.save"));
    const form = el("form", { class: "row" }, title, save, el("button", { type: "button", onclick: show }, t("common.cancel")));
    form.addEventListener("submit", (ev) => {
      ev.preventDefault();
      if (!title.value.trim()) return title.focus();
      busy(save, async () => {
        await api("PUT", `/api/agenda/${a.id}`, { title: title.value.trim() });
        flash(t("common.done"));
      });
    });
    fill(li, form);
    title.focus();
  }
  show();
  return li;
}

function draw() {
  fill(lists.sittings, ctx.overview.sittings.map(sittingItem));
  fill(lists.agenda, ctx.overview.agenda.map(agendaItem));
}

function drawDocs() {
  fill(
    lists.docs,
    docs.length
      ? docs.map((d) => el("li", { "data-document": d.id }, el("a", { href: authUrl(`/api/documents/${d.id}`), target: "_blank", rel: "noopener" }, d.title), el("span", { class: "meta" }, ` · ${t("doc.size", { n: Math.max(1, Math.round(d.size / 1024)) })}`)))
      : el("li", { class: "meta" }, t("doc.none")),
  );
}

function iso(local) {
  return local ? zonedIso(local) : null; // typed in the hub's zone, as every time is shown
}

function sittingForm() {
  const kind = el("select", { id: "s-kind" }, el("option", { value: "plenary" }, t("att.plenary")), el("option", { value: "group" }, t("att.group")));
  const dele = el("select", { id: "s-delegation" }, [...ctx.dir.delegations].map(([id, name]) => el("option", { value: id }, name)));
  const delField = field("setup.delegation", dele);
  delField.hidden = true;
  kind.addEventListener("change", () => {
    delField.hidden = kind.value !== "group";
  });
  const title = el("input", { id: "s-title", maxlength: 300 });
  const starts = el("input", { id: "s-starts", type: "datetime-local" });
  const ends = el("input", { id: "s-ends", type: "datetime-local" });
  const place = el("input", { id: "s-place", maxlength: 300 });
  const btn = el("button", { type: "submit", class: "primary" }, t("setup.addSitting"));
  const form = el("form", { id: "sitting-form" }, field("setup.kind", kind), delField, field("common.title", title), field("setup.starts", starts), field("setup.ends", ends), field("setup.place", place), btn);
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    if (!title.value.trim() || !starts.value) {
      (title.value.trim() ? starts : title).focus();
      return;
    }
    const body = { kind: kind.value, title: title.value.trim(), starts_at: iso(starts.value), place: place.value };
    if (ends.value) body.ends_at = iso(ends.value);
    if (kind.value === "group") body.delegation_id = Number(dele.value);
    busy(btn, async () => {
      await post(`/api/meetings/${ctx.meetingId}/sittings`, body);
      form.reset();
      delField.hidden = true;
      flash(t("common.done"));
    });
  });
  return form;
}

function agendaForm() {
  const title = el("input", { id: "a-title", maxlength: 300 });
  const btn = el("button", { type: "submit", class: "primary" }, t("setup.addAgenda"));
  const form = el("form", { id: "agenda-form" }, field("common.title", title), btn);
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    if (!title.value.trim()) return title.focus();
    busy(btn, async () => {
      await post(`/api/meetings/${ctx.meetingId}/agenda`, { title: title.value.trim() });
      form.reset();
    });
  });
  return form;
}

function docForm() {
  const file = el("input", { id: "d-file", type: "file" });
  const title = el("input", { id: "d-title", maxlength: 300 });
  const btn = el("button", { type: "submit", class: "primary" }, t("doc.upload"));
  const form = el("form", { id: "doc-form" }, field("doc.file", file), field("common.title", title), btn);
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    const f = file.files[0];
    if (!f) return file.focus();
    busy(btn, async () => {
      const q = new URLSearchParams({ filename: f.name, title: title.value.trim() || f.name });
      const r = await fetch(`/api/meetings/${ctx.meetingId}/documents?${q}`, {
        method: "POST",
        headers: { Authorization: `Bearer ${session.get().token}`, "Content-Type": f.type || "application/octet-stream" },
        body: f,
      });
      if (!r.ok) {
        showError(await failed(r));
        return;
      }
      form.reset();
      flash(t("common.done"));
    });
  });
  return form;
}
